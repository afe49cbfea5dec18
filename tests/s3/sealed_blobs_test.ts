/**
 * Sealed blobs in the S3 store on Swift (docs/keys_plan.md §2), the essentials of the embedded
 * suite (`tests/sealed_blobs_store_test.ts`): the mode rule both ways (nothing stored, the session
 * goes on), sealed blobs stored as sent and read back "sealed" byte for byte by another server
 * from the session's index objects (BKIDX002's bit 29), through a garbage collection run's mark.
 */
import assert from "node:assert/strict";
import {
  chunkAt,
  ChunkTableBuilder,
  decodeChunkTable,
  encodeChunkTable,
} from "../../storage/s3/chunk_list.ts";
import { CorruptStoreError } from "../../storage/storage.ts";
import { MAX_SEAL_OVERHEAD } from "../../storage/sealed_blobs.ts";
import {
  EncryptedAlreadyError,
  MAX_TREE_BYTES,
  RepositoryModeError,
} from "../../storage/snapshots.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { toHex } from "../../common/hex.ts";
import { fakeSlot } from "../_key_slots.ts";
import { sealedData, sealedTree } from "../_sealed_blobs.ts";
import { dataBlob, noise, sameBytes, snapshotOf, treeBlob } from "../_snapshots.ts";
import { FAST_GC, recording } from "./_gc.ts";
import { openS3 } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const PLAIN = 6;
const SEALED = 7;
const OPTIONS = { chunkFiles: true, gc: FAST_GC, packTargetBytes: 64 * KiB };

Deno.test("s3 blob index: bit 29 of the raw length marks a sealed blob (BKIDX002 only; vector)", () => {
  const builder = new ChunkTableBuilder();
  const id = new Uint8Array(32).fill(9);
  const rawLength = MAX_TREE_BYTES + MAX_SEAL_OVERHEAD;
  builder.add({
    id,
    pack: "ab.1",
    offset: 0,
    storedLength: rawLength,
    rawLength,
    compression: "sealed",
    kind: "tree",
  });
  const bytes = encodeChunkTable("blobs", builder.table());
  // raw length 0x02000040 with bits 30 (tree) and 29 (sealed): 0x62000040, little-endian
  assert.equal(toHex(bytes.subarray(bytes.length - 4)), "40000062");
  const back = chunkAt(decodeChunkTable("blobs", bytes), 0);
  assert.deepEqual([back.compression, back.kind, back.rawLength], ["sealed", "tree", rawLength]);
  const data = new ChunkTableBuilder();
  data.add({ id, pack: "ab.1", offset: 0, storedLength: 5, rawLength: 5, compression: "sealed" });
  assert.throws(() => encodeChunkTable("index", data.table()), RangeError);
  const asIndex = encodeChunkTable("blobs", data.table());
  asIndex.set(new TextEncoder().encode("BKIDX001"));
  assert.throws(() => decodeChunkTable("index", asIndex), CorruptStoreError, "not in BKIDX001");
  const twice = encodeChunkTable("blobs", data.table());
  twice[twice.length - 1] |= 0x80; // sealed and zstd
  assert.throws(() => decodeChunkTable("blobs", twice), CorruptStoreError);
  const longer = encodeChunkTable("blobs", data.table());
  longer[longer.length - 8] = 6; // 6 stored for 5 raw
  assert.throws(() => decodeChunkTable("blobs", longer), CorruptStoreError);
});

Deno.test("s3 mode rule: a sealed blob to a user without key slots, a plain one to a user with one, is refused; nothing stored, the session goes on", async () => {
  await using s3 = await openS3(OPTIONS);
  const snapshots = s3.storage.snapshots!;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const sealed = sealedData(1, 4 * KiB);
  const raw = dataBlob(noise(2, 4 * KiB));

  const plain = snapshots.openSession(PLAIN);
  await assert.rejects(plain.put(sealed), RepositoryModeError);
  await plain.put(raw);
  assert.deepEqual(await plain.missing([sealed.id, raw.id]), [true, false]);
  await plain.close();

  const encrypted = snapshots.openSession(SEALED);
  const error = await encrypted.put(raw).catch((error) => error);
  assert.ok(error instanceof RepositoryModeError && error.encrypted, String(error));
  await encrypted.put(sealed);
  assert.deepEqual(await encrypted.missing([raw.id, sealed.id]), [true, false]);
  const tree = sealedTree([sealed.id], 3);
  await encrypted.put(tree);
  await assert.rejects(encrypted.put(treeBlob([sealed.id])), RepositoryModeError);
  assert.deepEqual(await encrypted.commit(snapshotOf(tree)), { missing: [] });
  await encrypted.close();
});

Deno.test("s3 mode at the commit: a plain session begun before the first key slot makes no plain snapshot; init only as the first slot", async () => {
  await using s3 = await openS3(OPTIONS);
  const snapshots = s3.storage.snapshots!;
  const user = 9;
  const session = snapshots.openSession(user);
  try {
    const raw = dataBlob(noise(3, 4 * KiB));
    await session.put(raw); // the session takes the repository to be plain
    await snapshots.addKeySlot(user, fakeSlot(1)); // another connection's init
    const tree = treeBlob([raw.id]);
    await session.put(tree);
    await assert.rejects(session.commit(snapshotOf(tree)), RepositoryModeError);
  } finally {
    await session.close();
  }
  assert.deepEqual(await Array.fromAsync(snapshots.listSnapshots(user)), []);
  await assert.rejects(
    snapshots.addKeySlot(user, fakeSlot(2), { first: true }),
    EncryptedAlreadyError,
  );
});

Deno.test("s3 sealed blobs: stored as sent, read back sealed byte for byte by another server, after a collection run", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...OPTIONS, gc: recording(reports) });
  const snapshots = s3.storage.snapshots!;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const blobs = [sealedData(10, 40 * KiB), sealedData(11, 50 * KiB)];
  const tree = sealedTree(blobs.map((b) => b.id), 12);
  const session = snapshots.openSession(SEALED);
  for (const blob of [...blobs, tree]) await session.put(blob);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  await s3.storage.prune();
  assert.ok(reports.length > 0, "a collection run read the session's index objects");

  await using cold = await openS3(OPTIONS, s3.prefix);
  for (const blob of [...blobs, tree]) {
    const stored = await cold.storage.snapshots!.readBlob(SEALED, blob.id);
    assert.equal(stored.encoding, "sealed");
    assert.equal(stored.kind, blob.kind);
    assert.equal(stored.rawLength, blob.bytes.length);
    assert.ok(sameBytes(stored.bytes, blob.bytes), "byte for byte");
  }
});
