/**
 * `deno task soak [--seconds N] [--clients N]`: prints operations done, errors (must be 0) and the
 * server's peak memory; exits 1 if any error was found.
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { runSoak } from "./soak.ts";

const { values } = taskArgs(
  "soak",
  "deno task soak [--seconds N] [--clients N]\n\nMany clients against a server process for N seconds (default 60, 32 clients); prints operations,\nerrors (must be 0) and the server peak memory; exits 1 if any error was found.",
  { seconds: { type: "string" }, clients: { type: "string" } },
);
const seconds = Number(values.seconds ?? 60);
const clients = Number(values.clients ?? 32);
if (!(seconds > 0) || !Number.isInteger(clients) || clients < 1) {
  console.error("soak: --seconds takes a positive number, --clients a whole number >= 1");
  Deno.exit(2);
}
console.log(`soak: ${clients} clients for ${seconds} s against a server process on 127.0.0.1`);
const report = await runSoak({ seconds, clients });
const total = Object.values(report.operations).reduce((a, b) => a + b, 0);
console.log(`operations: ${total} (${JSON.stringify(report.operations)})`);
console.log(`files verified at the end: ${report.filesVerified}`);
console.log(
  `server peak RSS: ${
    report.peakRssBytes === undefined
      ? "unknown (no /proc)"
      : `${(report.peakRssBytes / 2 ** 20).toFixed(1)} MiB`
  }`,
);
console.log(`errors: ${report.errors.length}`);
for (const error of report.errors.slice(0, 20)) console.log(`  ${error}`);
Deno.exit(report.errors.length === 0 ? 0 : 1);
