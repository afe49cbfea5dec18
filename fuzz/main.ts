/**
 * `deno task fuzz [--seed N] [--runs N]`: many more hostile streams than the test suite sends, against
 * a real server on 127.0.0.1. Prints the seed first so that a failure can be replayed.
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { fuzzServer } from "./server_property.ts";

const { values } = taskArgs(
  "fuzz",
  "deno task fuzz [--seed N] [--runs N]\n\nHostile streams against a real server; prints the seed (--seed N replays a failure).",
  { seed: { type: "string" }, runs: { type: "string" } },
);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const runs = values.runs !== undefined ? Number(values.runs) : 2000;
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1) {
  console.error("fuzz: --seed and --runs take whole numbers");
  Deno.exit(2);
}
console.log(`fuzz: seed ${seed}, ${runs} runs (replay with --seed ${seed})`);
const started = performance.now();
await fuzzServer({ seed, runs });
console.log(`fuzz: ${runs} runs passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
