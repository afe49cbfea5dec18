/**
 * A pruner process for tests/s3/gc_test.ts: prunes the prefix given as its argument (G = 5 s) until
 * a GC run has swept a pack, then prints `SWEPT {report}` and waits there, between the sweep and
 * the doom, for the test to kill it. Exits 1 if no run sweeps within 60 s.
 *
 * @module
 */
import { S3Storage } from "../../storage/s3/engine.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { FAST_GC } from "./_gc.ts";

const prefix = Deno.args[0];
let paused = false;
const { storage } = await S3Storage.open({
  location: testLocation(),
  prefix,
  serverTag: `pruner-${Deno.pid}`,
  pruneIntervalMs: 0,
  retention: { keepDays: 0 },
  gc: {
    ...FAST_GC,
    onStep: async (step, report) => {
      if (step !== "swept" || report.deletedPacks === 0) return;
      paused = true;
      console.log(`SWEPT ${JSON.stringify(report)}`);
      // Until the SIGKILL: the lock's refreshes keep running meanwhile.
      await new Promise(() => setInterval(() => {}, 1000));
    },
  },
});
const deadline = Date.now() + 60_000;
while (!paused && Date.now() < deadline) await storage.prune();
Deno.exit(1);
