/**
 * The snapshot mark reads tree-reference objects of any size: one of 130,000 trees (what a large
 * first backup's flush can write) once made every garbage collection of the bucket throw.
 */
import assert from "node:assert/strict";
import { FAST_GC, recording } from "./_gc.ts";
import { openS3 } from "./_s3_storage.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { encodeTreeRefs, sessionObjects } from "../../storage/s3/snapshot_objects.ts";

Deno.test.sanitizer({ ops: true, resources: false });

Deno.test("s3: GC runs over a t/ object of 130,000 trees", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ chunkFiles: true, gc: recording(reports, FAST_GC) });
  const trees = Array.from({ length: 130_000 }, (_, i) => {
    const id = new Uint8Array(32);
    new DataView(id.buffer).setUint32(0, i);
    return { id, refs: new Uint8Array(0) };
  });
  const { refs } = sessionObjects(5, "0123456789abcdef", 1);
  await s3.client.put(s3.prefix + refs, encodeTreeRefs(trees));
  await s3.storage.prune(); // threw RangeError (maximum call stack size) before
  assert.ok(reports.length > 0);
});
