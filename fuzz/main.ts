/**
 * `deno task fuzz [--seed N] [--runs N]`: many more hostile streams than the test suite sends, against
 * a real server on 127.0.0.1. Prints the seed first so that a failure can be replayed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { withoutLeadingDashDash } from "../cli/usage_error.ts";
import { fuzzServer } from "./server_property.ts";

const { values } = parseArgs({
  args: withoutLeadingDashDash(Deno.args),
  options: { seed: { type: "string" }, runs: { type: "string" } },
  strict: true,
});
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
