/**
 * A server for garbage collection crash tests: `deno run … tests/_crash_gc_server.ts ROOT STEP PACK_BYTES`
 * serves on a free port (printed as `port N`) with packs cut at PACK_BYTES and no past versions kept, and
 * prunes once at start. When that prune's garbage collection reaches step STEP it prints
 * `paused at STEP` and waits there for the SIGKILL; with STEP `none`, it prints `settled` once the
 * start-up prune is done.
 */
import { openServer } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";

const [root, step, packBytes] = Deno.args;
const server = await openServer({
  root,
  port: 0,
  logger: createLogger({ quiet: true, writeLine: () => {} }),
  retention: { keepDays: 0 },
  pruneIntervalMs: 0,
  packTargetBytes: Number(packBytes),
  onGarbageStep: async (at) => {
    if (at !== step) return;
    console.log(`paused at ${at}`);
    await new Promise(() => {}); // until killed
  },
});
console.log(`port ${server.addr.port}`);
await server.storage.settled();
console.log("settled");
