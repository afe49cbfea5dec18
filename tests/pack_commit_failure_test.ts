/**
 * Packs streamed through `ObjectStore.create` (issue 21): a folder's commit renames the
 * temp file over the name and then fsyncs the folder; if that fsync fails (EIO), the commit throws
 * but the pack is there. `PackWriter.abort` removes every pack it cut, committed or not, so such a
 * pack does not stay in the repository, unindexed and uncharged, until the next start's sweep.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectStore, ObjectWriter } from "../objects/object_store.ts";
import { PACKS_PREFIX, PackWriter } from "../repository/pack_writer.ts";
import { withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A folder store whose commits make the object visible, then fail (a folder fsync's EIO). */
function failingAfterRename(folder: FolderStore): ObjectStore {
  return withCreate(folder, async (name): Promise<ObjectWriter> => {
    const inner = await folder.create(name);
    return {
      ...inner,
      commit: async () => {
        await inner.commit();
        throw new Error("EIO: fsync of the pack's folder");
      },
    };
  });
}

Deno.test("a pack whose commit failed after its rename is removed by abort", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-review-commit-" });
  try {
    const folder = await FolderStore.open({ root });
    const writer = new PackWriter(failingAfterRename(folder), { targetBytes: 1024 });
    await writer.add(new Uint8Array(32).fill(1), {
      stored: new Uint8Array(100).fill(2),
      compression: "none",
    }, 100);
    await assert.rejects(writer.finish(), /EIO/);
    await writer.abort();
    const left: string[] = [];
    for await (const { name } of folder.list(PACKS_PREFIX)) left.push(name);
    assert.deepEqual(left, [], "no pack the index will never learn of stays behind");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
