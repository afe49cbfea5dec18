/**
 * The server of the prune benchmark: `deno run … bench/prune_server.ts ROOT` serves ROOT on a free
 * port with past versions kept 30 days, its clock 10 days behind (so that the start-up prune finds
 * nothing to remove), and no background prune. It prints `{"port":N}` once the start-up prune is
 * done. Each line `prune` on its standard input moves its clock to today and runs the server's own
 * prune (`Storage.prune`: past versions, then garbage collection) while it keeps serving; it then
 * prints `{"removed":N,"pruneMs":T,"repacks":R,"emptyPackSteps":E}`. It stops at the end of its
 * input.
 *
 * @module
 */
import { openServer } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";
import { PRUNE_KEEP_DAYS } from "./prune_root.ts";

const DAY_MS = 86_400_000;
const [root] = Deno.args;
let offsetMs = -10 * DAY_MS;
const steps = { repacks: 0, emptyPackSteps: 0 };
const server = await openServer({
  root,
  port: 0,
  logger: createLogger({ quiet: true, writeLine: () => {} }),
  retention: { keepDays: PRUNE_KEEP_DAYS },
  pruneIntervalMs: 0,
  now: () => Date.now() + offsetMs,
  onGarbageStep: (step) => {
    if (step === "repack-indexed") steps.repacks++;
    if (step === "empty-unindexed") steps.emptyPackSteps++;
  },
});
await server.storage.settled();
console.log(JSON.stringify({ port: server.addr.port }));
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";
for (;;) {
  const { value, done } = await lines.read();
  if (done) break;
  pending += value;
  let end: number;
  while ((end = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, end).trim();
    pending = pending.slice(end + 1);
    if (command !== "prune") continue;
    offsetMs = 0;
    const started = performance.now();
    const removed = await server.storage.prune();
    console.log(JSON.stringify({ removed, pruneMs: performance.now() - started, ...steps }));
  }
}
await server.close();
