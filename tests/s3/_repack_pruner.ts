/**
 * A pruner process for tests/s3/repack_test.ts and snapshot_repack_test.ts (`pausedPruner`):
 * prunes the prefix given as its first argument (its third: `records`, `REPACK_ENGINE`, or
 * `snapshots`, `SNAPSHOT_ENGINE`; G = 5 s) until a GC run reaches the step given as its second
 * (`repacked`: new packs written, no record rewritten or nothing indexed; `rewritten`: records
 * rewritten or the copies indexed, no tombstone yet) with chunks copied, then prints
 * `PAUSED {report}` and waits there for the test's SIGKILL. Exits 1 if no run gets there within
 * 60 s.
 *
 * @module
 */
import { S3Storage } from "../../storage/s3/engine.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { FAST_GC } from "./_gc.ts";
import { REPACK_ENGINE } from "./_repack.ts";
import { SNAPSHOT_ENGINE } from "./_snapshot_repack.ts";

const [prefix, at, engine] = Deno.args;
let paused = false;
const { storage } = await S3Storage.open({
  ...(engine === "snapshots" ? SNAPSHOT_ENGINE : REPACK_ENGINE),
  location: testLocation(),
  prefix,
  serverTag: `pruner-${Deno.pid}`,
  pruneIntervalMs: 0,
  gc: {
    ...FAST_GC,
    onStep: async (step, report) => {
      if (step !== at || report.copiedChunks === 0) return;
      paused = true;
      console.log(`PAUSED ${JSON.stringify(report)}`);
      // Until the SIGKILL: the lock's and the repack pin's refreshes keep running meanwhile.
      await new Promise(() => setInterval(() => {}, 1000));
    },
  },
});
const deadline = Date.now() + 60_000;
while (!paused && Date.now() < deadline) await storage.prune();
Deno.exit(1);
