/**
 * The V8 flags the server runs with wherever it is shipped: `deno task serve` and `verify`
 * (deno.json), the compiled server (`tools/compile_flags.ts`), the container image, the `deno run`
 * lines the server prints and the README shows, and the harness that benchmarks it. A young
 * generation of at most 1 MiB per semi-space keeps the garbage of a large upload lower at its peak
 * (figures: docs/performance.md, "Memory with 1,000,000 chunks indexed"). Only a launch flag does
 * it: `node:v8`'s `setFlagsFromString` at run time changes nothing.
 *
 * @module
 */

/** The flags, as V8 takes them. */
export const SERVER_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];
/** {@linkcode SERVER_V8_FLAGS} as the one argument `deno run` and `deno compile` take. */
export const SERVER_V8_ARG = `--v8-flags=${SERVER_V8_FLAGS.join(",")}`;
