/**
 * A snapshot session's `missing` call on a second server while garbage collection deletes a pack
 * whose blobs the server's blob cache still places there (an index outlives some of its packs), on
 * Swift; the call answers those blobs missing and the others stored, and so does the call after it.
 *
 * - The pack and then its tombstone deleted while the call lists the user's packs, and the view's
 *   background refresh installed meanwhile: the list (made under the view that doomed the pack)
 *   holds the pack, the view no longer dooms it. Before, the call answered the deleted blobs stored.
 * - A read of one of the pack's blobs on that server meanwhile (a 404): before, it made the cache
 *   forget the user, and the call answered every blob missing.
 */
import assert from "node:assert/strict";
import { encodeTombstone, tombstonesPrefix } from "../../storage/s3/gc_objects.ts";
import { indexFolder, packsFolder } from "../../storage/s3/keys.ts";
import { NoSuchBlobError } from "../../storage/snapshots.ts";
import { openS3 } from "./_s3_storage.ts";
import { SNAPSHOT_ENGINE, USER } from "./_snapshot_repack.ts";
import { warmSession } from "./_second_server.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

Deno.test("s3 snapshot missing, a pack and its tombstone deleted while the call lists the packs: its blobs missing", async () => {
  await using s3 = await openS3(SNAPSHOT_ENGINE);
  await using warm = await warmSession(s3);
  const { kept, dead, deadPacks, b, session, ids } = warm;
  const tombstone = `${tombstonesPrefix(s3.prefix)}0123456789abcdef`;
  await s3.client.put(tombstone, encodeTombstone(deadPacks));
  await b.clock.wake();
  assert.ok(deadPacks.every((pack) => b.view.isDoomed(pack)), "the view read the doom");
  // The call lists the packs under that view: its answer, held, still names the dead packs.
  const held = b.hold(packsFolder(USER), "answer");
  const answer = session.missing(ids);
  const release = await held;
  for (const pack of deadPacks) await s3.client.delete(`${s3.prefix}${pack}`);
  await s3.client.delete(tombstone);
  await b.clock.wake();
  assert.ok(!deadPacks.some((pack) => b.view.isDoomed(pack)), "the view no longer dooms them");
  release();
  const expected = [...kept.map(() => false), ...dead.map(() => true)];
  assert.deepEqual(await answer, expected, "the call held");
  assert.deepEqual(await session.missing(ids), expected, "the next call");
});

Deno.test("s3 snapshot missing, a read finding a pack gone during the call: the other blobs stored", async () => {
  await using s3 = await openS3(SNAPSHOT_ENGINE);
  await using warm = await warmSession(s3);
  const { kept, dead, deadPacks, b, session, ids } = warm;
  // A view refresh: the next call lists the packs again, and is held there.
  await b.clock.wake();
  const held = b.hold(packsFolder(USER));
  const answer = session.missing(ids);
  const release = await held;
  for (const pack of deadPacks) await s3.client.delete(`${s3.prefix}${pack}`);
  // The read's own refresh lists the index, its reading again after the 404 is held.
  const reread = b.hold(indexFolder(USER), "request", 1);
  const read = b.snapshots.readBlob(USER, dead[1].id);
  const releaseRead = await reread;
  release();
  const expected = [...kept.map(() => false), ...dead.map(() => true)];
  assert.deepEqual(await answer, expected, "the call held");
  releaseRead();
  await assert.rejects(read, NoSuchBlobError);
  assert.deepEqual(await session.missing(ids), expected, "the next call");
});
