/**
 * Repack of packs on Swift (`storage/s3/repack.ts`, inside a GC run; G = 5 s): packs mostly
 * garbage have their live chunks copied into new packs, their records rewritten, and are doomed,
 * then deleted G later, and usage drops by their garbage; a reader holding an old chunk list
 * while its packs move reads the file whole; a pruner SIGKILLed mid-repack loses nothing; a
 * backup deduplicating against packs being repacked loses nothing.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { freshPrefix } from "../../harness/s3_location.ts";
import type { ChunkGcReport, ChunkGcStep } from "../../storage/s3/options.ts";
import { chunkAt, decodeChunkTable } from "../../storage/s3/chunk_list.ts";
import { keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";
import { chunkRecordsOf, FAST_GC, packsNamedBy, packsOf, recording } from "./_gc.ts";
import {
  assertLayoutWhole,
  liveShares,
  pausedPruner,
  pruneUntilGone,
  REPACK_ENGINE,
  storeLayout,
  USER,
} from "./_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;

Deno.test("s3 repack: packs mostly garbage are repacked, doomed, deleted after G, and usage drops", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...REPACK_ENGINE, gc: recording(reports) });
  const layout = await storeLayout(s3);
  const usageBefore = await s3.storage.usage(USER);

  const { left, afterRepack } = await pruneUntilGone(s3, reports, [
    ...layout.low,
    ...layout.empty,
  ]);
  assert.deepEqual(left, [], "packs under half live are repacked, then swept");
  // A pack is repacked once G old: the first runs may find only some of v1's old enough.
  const repacked = reports.reduce((sum, r) => sum + r.repackedPacks, 0);
  assert.equal(repacked, layout.low.length, "every pack under half live, once");
  const rewritten = reports.filter((r) => r.repackedPacks > 0).map((r) => r.rewrittenRecords);
  assert.ok(
    rewritten.every((count) => count >= 1 && count <= 3),
    `disk.img's two versions and other.img, at most: ${rewritten}`,
  );
  for (const pack of layout.low) assert.ok(afterRepack!.has(pack), `${pack} doomed, not deleted`);

  // Nothing names an old pack any more; what is left is half live or more.
  const shares = await liveShares(s3.client, s3.prefix, USER);
  for (const pack of layout.full) assert.ok(shares.has(pack), `${pack} (half live or more) kept`);
  for (const [pack, { size, live }] of shares) {
    assert.ok(live / size >= 0.5, `${pack}: ${live} of ${size} bytes live`);
  }
  await assertLayoutWhole(s3.storage, layout);

  // Usage drops by the garbage of the packs deleted (their live bytes are stored once again).
  const garbage = [...layout.low, ...layout.empty].reduce((sum, pack) => {
    const { size, live } = layout.shares.get(pack)!;
    return sum + size - live;
  }, 0);
  const usageAfter = await s3.storage.usage(USER);
  const dropped = usageBefore - usageAfter;
  assert.ok(
    Math.abs(dropped - garbage) <= 64 * KiB,
    `usage ${usageBefore} → ${usageAfter}: dropped ${dropped}, the garbage was ${garbage}`,
  );
  console.log(
    `repacked ${layout.low.length} packs (${
      layout.low.map((p) => (layout.shares.get(p)!.live / layout.shares.get(p)!.size).toFixed(2))
    } live), doomed ${layout.empty.length} empty; usage ${usageBefore} → ${usageAfter}`,
  );
});

Deno.test("s3 repack: a reader holding the old chunk list while the packs move reads the file whole", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...REPACK_ENGINE, gc: recording(reports) });
  const layout = await storeLayout(s3);
  // The reader has the list and its first runs; later runs are in packs about to move.
  const [record] = await chunkRecordsOf(s3.client, s3.prefix, USER, "disk.img");
  const list = decodeChunkTable(
    "list",
    new Uint8Array(await (await s3.client.get(record)).arrayBuffer()),
  );
  // Runs as the reader cuts them (adjacent chunks of one pack): it reads the first, and three
  // more ahead, at the open; past those, some are in packs to repack.
  const runs: string[] = [];
  for (let i = 0; i < list.count; i++) {
    const chunk = chunkAt(list, i);
    const last = i > 0 ? chunkAt(list, i - 1) : undefined;
    const adjacent = last?.pack === chunk.pack && chunk.offset === last.offset + last.storedLength;
    if (!adjacent) runs.push(`p/${USER}/${chunk.pack}`);
  }
  const late = runs.slice(5).filter((pack) => layout.low.includes(pack));
  assert.ok(late.length > 0, `runs past the first five are in packs to repack: ${runs}`);
  using file = await s3.storage.open(USER, "disk.img");
  const read = new Uint8Array(layout.v3.length);
  let at = 0;
  while (at < 64 * KiB) at += (await file.source.read(read.subarray(at, 64 * KiB)))!;

  const { left } = await pruneUntilGone(s3, reports, layout.low);
  assert.deepEqual(left, [], "the old packs are gone");
  for (let count; (count = await file.source.read(read.subarray(at))) !== null;) at += count;
  assert.equal(at, layout.v3.length);
  assert.ok(Buffer.from(read).equals(layout.v3), "the rest read from the new packs");
});

for (const step of ["repacked", "rewritten"] as ChunkGcStep[]) {
  const when = step === "repacked"
    ? "after its new packs, before any record"
    : "after the records, before its tombstone";
  Deno.test(`s3 repack: a pruner killed ${when}, then a re-run, loses nothing`, async () => {
    const reports: ChunkGcReport[] = [];
    const prefix = freshPrefix();
    await using s3 = await openS3({ ...REPACK_ENGINE, gc: recording(reports) }, prefix);
    const layout = await storeLayout(s3);
    const before = await packsOf(s3.client, prefix, USER);
    const paused = await pausedPruner(prefix, step, "records");
    const copies = [...await packsOf(s3.client, prefix, USER)].filter((p) => !before.has(p));
    assert.ok(copies.length > 0, "its new packs were written");
    assert.equal(paused.rewrittenRecords, step === "rewritten" ? 3 : 0);
    assert.equal((await keysUnder(s3.client, `${prefix}g/doomed/`)).length, 0, "no tombstone");
    await assertLayoutWhole(s3.storage, layout);

    // The re-run takes the dead lock over once stale; the killed run's leftovers are collected
    // too (its copies once its pin is stale, if no record names them).
    const { left } = await pruneUntilGone(s3, reports, [...layout.low, ...layout.empty]);
    assert.deepEqual(left, [], "the old packs are gone");
    if (step === "repacked") {
      const orphans = await pruneUntilGone(s3, reports, copies);
      assert.deepEqual(orphans.left, [], "the copies no record took are collected");
    }
    await using cold = await openS3({ chunkFiles: true, gc: FAST_GC }, prefix);
    await assertLayoutWhole(cold.storage, layout);
    assert.equal((await keysUnder(s3.client, `${prefix}g/pins/`)).length, 0, "no pin left");
  });
}

Deno.test("s3 repack: backups deduplicating against packs being repacked lose nothing", async () => {
  const reports: ChunkGcReport[] = [];
  let during: ((step: ChunkGcStep) => Promise<void>) | undefined;
  await using b = await openS3({
    ...REPACK_ENGINE,
    gc: { ...recording(reports), onStep: (step) => during?.(step) },
  });
  await using a = await openS3({ ...REPACK_ENGINE, gc: FAST_GC }, b.prefix);
  // A stores the history: its dedup cache knows every chunk where it was first stored.
  const layout = await storeLayout(a);
  const copies: { name: string; bytes: Uint8Array; step: ChunkGcStep; hits: number }[] = [];
  during = async (step) => {
    if (step !== "repacked" && step !== "rewritten") return;
    if (copies.some((copy) => copy.step === step)) return; // the first repack only
    // Between the copy and the doom, A's view has no tombstone: A deduplicates against the old
    // packs, and its record names them after B's mark.
    const bytes = step === "repacked" ? layout.v3 : layout.v2;
    const name = `copy-${step}.img`;
    await store(a.storage, USER, name, bytes);
    const [record] = await chunkRecordsOf(a.client, a.prefix, USER, name);
    const named = await packsNamedBy(a.client, record, USER);
    copies.push({ name, bytes, step, hits: named.filter((p) => layout.low.includes(p)).length });
  };
  const { left } = await pruneUntilGone(b, reports, layout.low, 90_000);
  during = undefined;
  assert.deepEqual(copies.map(({ step }) => step), ["repacked", "rewritten"]);
  for (const { name, hits } of copies) assert.ok(hits > 0, `${name} named packs being repacked`);
  for (const { name } of copies) {
    const [record] = await chunkRecordsOf(b.client, b.prefix, USER, name);
    for (const pack of await packsNamedBy(b.client, record, USER)) {
      assert.ok(!layout.low.includes(pack), `${name}'s record was rewritten in turn (${pack})`);
    }
  }
  assert.deepEqual(left, [], "repacked again, the old packs go once nothing names them");
  // The sweep after the first repack spared the packs the copies named; a later run repacked
  // them again, rewriting the copies' records.
  const repackRuns = reports.filter((r) => r.repackedPacks > 0).length;
  assert.ok(repackRuns >= 2, `repacked again once the copies named the old packs: ${repackRuns}`);

  await using c = await openS3({ chunkFiles: true, gc: FAST_GC }, b.prefix);
  await assertLayoutWhole(c.storage, layout);
  for (const { name, bytes } of copies) {
    assert.ok(Buffer.from(await readWhole(c.storage, USER, name)).equals(bytes), name);
  }
});
