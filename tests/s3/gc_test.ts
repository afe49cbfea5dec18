/**
 * Garbage collection of packs on Swift (`storage/s3/chunk_gc.ts`, inside `prune()`), with G = 5 s:
 * the packs of expired versions are doomed, then deleted once the tombstone is G old, and usage
 * drops; a doomed pack that a record names again is spared; a SIGKILL of the pruner between its
 * sweep and its doom, then a re-run, loses nothing live.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { freshPrefix } from "../../harness/s3_location.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { nameRecordsPrefix } from "../../storage/s3/keys.ts";
import { keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";
import { randomBytes } from "./_chunked.ts";
import {
  chunkRecordsOf,
  FAST_GC,
  killedWhenPrinted,
  packsNamedBy,
  packsOf,
  pruneUntil,
  recording,
} from "./_gc.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MiB = 1024 * 1024;
const USER = 4;

Deno.test("s3 gc: an expired version's packs are doomed, deleted after G, and usage drops", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({
    chunkFiles: true,
    retention: { keepDays: 0 },
    gc: recording(reports),
  });
  const old = randomBytes(3 * MiB);
  const kept = randomBytes(3 * MiB);
  const other = randomBytes(2 * MiB);
  await store(s3.storage, USER, "disk.img", old);
  const oldPacks = await packsOf(s3.client, s3.prefix, USER);
  await store(s3.storage, USER, "disk.img", kept);
  await store(s3.storage, USER, "other.img", other);
  const livePacks = [...await packsOf(s3.client, s3.prefix, USER)].filter((p) => !oldPacks.has(p));
  const usageBefore = await s3.storage.usage(USER);

  // Retention drops the old version at once (keepDays 0); its packs are doomed once G old.
  const doomed = await pruneUntil(s3.storage, reports, (r) => r.doomedPacks > 0, "a doom");
  assert.equal(doomed.doomedPacks, oldPacks.size, "exactly the old version's packs are doomed");
  assert.equal(doomed.deletedPacks, 0, "nothing is deleted in the run that dooms");
  const tombstones = await keysUnder(s3.client, `${s3.prefix}g/doomed/`);
  assert.equal(tombstones.length, 1);
  const body = JSON.parse(
    new TextDecoder().decode(await (await s3.client.get(tombstones[0].key)).arrayBuffer()),
  );
  assert.deepEqual(new Set(body.packs), oldPacks);

  const swept = await pruneUntil(s3.storage, reports, (r) => r.deletedPacks > 0, "a sweep");
  assert.equal(swept.deletedPacks, oldPacks.size);
  assert.equal(swept.tombstonesDeleted, 1, "the swept tombstone goes last");
  const now = await packsOf(s3.client, s3.prefix, USER);
  for (const pack of oldPacks) assert.ok(!now.has(pack), `${pack} deleted`);
  for (const pack of livePacks) assert.ok(now.has(pack), `${pack} kept`);
  assert.equal((await keysUnder(s3.client, `${s3.prefix}g/`)).length, 0, "no lock, pin, tombstone");
  // Index: one consolidated object per user, the deltas older than the mark gone.
  const index = (await keysUnder(s3.client, `${s3.prefix}x/${USER}/`)).map(({ key }) => key);
  assert.equal(index.length, 1, `${index}`);
  assert.match(index[0], /\/gc\.[0-9a-f]{16}\.1$/);

  const usageAfter = await s3.storage.usage(USER);
  assert.ok(
    usageBefore - usageAfter >= 3 * MiB - 64 * 1024,
    `usage ${usageBefore} → ${usageAfter}: the old version's 3 MiB of packs are gone`,
  );
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "disk.img")).equals(kept));
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "other.img")).equals(other));
  // A second server that starts now deduplicates against the consolidated index.
  await using b = await openS3({ chunkFiles: true, gc: FAST_GC }, s3.prefix);
  const before = await packsOf(s3.client, s3.prefix, USER);
  await store(b.storage, USER, "copy.img", kept);
  assert.equal((await packsOf(s3.client, s3.prefix, USER)).size, before.size, "no new pack");
  assert.ok(Buffer.from(await readWhole(b.storage, USER, "copy.img")).equals(kept));
});

Deno.test("s3 gc: a doomed pack that a record names again is spared", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({
    chunkFiles: true,
    retention: { keepDays: 0 },
    gc: recording(reports),
  });
  const bytes = randomBytes(3 * MiB);
  await store(s3.storage, USER, "a.img", bytes);
  const [oldRecord] = await chunkRecordsOf(s3.client, s3.prefix, USER, "a.img");
  const list = new Uint8Array(await (await s3.client.get(oldRecord)).arrayBuffer());
  const packs = await packsOf(s3.client, s3.prefix, USER);
  await store(s3.storage, USER, "a.img", randomBytes(300 * 1024)); // an inline version
  await pruneUntil(s3.storage, reports, (r) => r.doomedPacks > 0, "a doom");

  // An upload that deduplicated before the tombstone was visible: its record lands now.
  const revived = nameRecordsPrefix(s3.prefix, USER, "b.img") +
    oldRecord.slice(nameRecordsPrefix(s3.prefix, USER, "a.img").length);
  await s3.client.put(revived, list);

  const swept = await pruneUntil(s3.storage, reports, (r) => r.tombstonesDeleted > 0, "a sweep");
  assert.equal(swept.deletedPacks, 0, "the pack is referenced again: spared");
  const now = await packsOf(s3.client, s3.prefix, USER);
  for (const pack of packs) assert.ok(now.has(pack), `${pack} kept`);
  // No longer doomed, and not doomed again while the record names it.
  await pruneUntil(s3.storage, reports, () => true, "one more run");
  assert.equal(reports.at(-1)!.doomedPacks, 0);
  assert.equal((await keysUnder(s3.client, `${s3.prefix}g/doomed/`)).length, 0);
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "b.img")).equals(bytes));
});

Deno.test("s3 gc: a pruner killed between its sweep and its doom, then a re-run, loses nothing live", async () => {
  const reports: ChunkGcReport[] = [];
  const prefix = freshPrefix();
  await using s3 = await openS3({
    chunkFiles: true,
    retention: { keepDays: 0 },
    gc: recording(reports),
  }, prefix);
  // Expired at once: "x" (its pack will be swept by the killed run), "w" (doomed by no run yet).
  const live = randomBytes(3 * MiB);
  const shared = randomBytes(3 * MiB);
  await store(s3.storage, USER, "live.img", live);
  const livePacks = await packsOf(s3.client, prefix, USER);
  await store(s3.storage, USER, "x.img", randomBytes(2 * MiB));
  const xPacks = [...await packsOf(s3.client, prefix, USER)].filter((p) => !livePacks.has(p));
  await store(s3.storage, USER, "x.img", shared); // x's first version expires
  await pruneUntil(s3.storage, reports, (r) => r.doomedPacks > 0, "x doomed");
  await store(s3.storage, USER, "w.img", randomBytes(2 * MiB));
  await store(s3.storage, USER, "w.img", live.subarray(0, 300 * 1024)); // w's first expires
  await store(s3.storage, USER, "copy.img", shared); // deduplicates: no new pack

  const { value: swept } = await killedWhenPrinted<{ deletedPacks: number }>(
    new URL("./_gc_pruner.ts", import.meta.url),
    ["--allow-net", "--allow-env"],
    [prefix],
    "SWEPT",
  );
  assert.ok(
    swept && swept.deletedPacks === xPacks.length,
    `the child swept: ${JSON.stringify(swept)}`,
  );
  const afterKill = await packsOf(s3.client, prefix, USER);
  for (const pack of xPacks) assert.ok(!afterKill.has(pack), `${pack} swept before the kill`);
  assert.equal((await keysUnder(s3.client, `${prefix}g/lock/`)).length, 1, "its lock is left");

  // The re-run takes the dead lock over once it is stale, finishes the job, then dooms w.
  const reRun = await pruneUntil(s3.storage, reports, (r) => r.held, "the lock taken over");
  assert.equal(reRun.deletedPacks, 0, "nothing more to sweep");
  await pruneUntil(s3.storage, reports, (r) => r.deletedPacks > 0, "w's pack swept", 40_000);
  const packs = await packsOf(s3.client, prefix, USER);
  for (const name of ["live.img", "x.img", "w.img", "copy.img"]) {
    for (const record of await chunkRecordsOf(s3.client, prefix, USER, name)) {
      for (const pack of await packsNamedBy(s3.client, record, USER)) {
        assert.ok(packs.has(pack), `${name} names ${pack}, which exists`);
      }
    }
  }
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "live.img")).equals(live));
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "x.img")).equals(shared));
  assert.ok(Buffer.from(await readWhole(s3.storage, USER, "copy.img")).equals(shared));
  assert.ok(
    Buffer.from(await readWhole(s3.storage, USER, "w.img")).equals(live.subarray(0, 300 * 1024)),
  );
});
