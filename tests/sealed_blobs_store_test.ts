/**
 * Sealed blobs in the embedded store (docs/keys_plan.md §2): an encrypted repository's blobs are
 * stored as sent and read back as "sealed", checked for their lengths only (never decoded nor
 * hashed); the mode rule refuses a sealed blob to a user without key slots and a plain one to a
 * user with one, storing nothing and letting the session go on; `verify` counts sealed chunks
 * apart and never calls them damaged; DropBlobs drops a sealed blob as asked; garbage collection's
 * repack copies one byte for byte with its flag; a file's chunk (v2) never reuses one. The pack
 * format's code 2 has its vector.
 */
import assert from "node:assert/strict";
import { toHex } from "../common/hex.ts";
import {
  COMPRESSION_SEALED,
  CorruptPackError,
  decodePackHeader,
  decodePackTrailer,
  encodePackTail,
  PACK_TRAILER_BYTES,
} from "../repository/pack_format.ts";
import { decodeBlob, SealedBlobError } from "../repository/blob_codec.ts";
import { chunksOf } from "../harness/stored.ts";
import { REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { LimitExceededError } from "../storage/errors.ts";
import { MAX_SEAL_OVERHEAD, SealedChunkError } from "../storage/sealed_blobs.ts";
import {
  BlobMismatchError,
  EncryptedAlreadyError,
  MAX_DATA_BLOB_BYTES,
  RepositoryModeError,
  type SnapshotRepository,
} from "../storage/snapshots.ts";
import { KiB, openTempStorage, put, withIndex } from "./_repository.ts";
import { fakeSlot } from "./_key_slots.ts";
import { sealedData, sealedTree } from "./_sealed_blobs.ts";
import { dataBlob, noise, sameBytes, sha256, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T0 = 1_770_000_000_000;
const PLAIN = 1;
const SEALED = 2;

/** The index's compression code of the user's blob. */
function codeOf(root: string, userId: number, id: Uint8Array): number {
  return withIndex(
    root,
    (db) =>
      (db.prepare("SELECT compression FROM blobs WHERE user_id = ? AND id = ?").get(userId, id) as {
        compression: number;
      }).compression,
  );
}

async function assertReads(snapshots: SnapshotRepository, id: Uint8Array, bytes: Uint8Array) {
  const stored = await snapshots.readBlob(SEALED, id);
  assert.equal(stored.encoding, "sealed");
  assert.equal(stored.rawLength, bytes.length);
  assert.ok(sameBytes(stored.bytes, bytes), "byte for byte as sent");
}

Deno.test("pack format: compression 2 is sealed, stored length = raw length (vector)", () => {
  const id = new Uint8Array(32).fill(0xcd);
  const tail = encodePackTail([
    { id, kind: "chunk", compression: "sealed", storedLength: 0x34, rawLength: 0x34, offset: 0 },
  ]);
  assert.equal(COMPRESSION_SEALED, 2);
  // kind 1, compression 2, reserved 0, stored 0x34, raw 0x34, then the id
  assert.equal(toHex(tail.subarray(0, 12)), "010200003400000034000000");
  assert.equal(toHex(tail.subarray(12, 44)), "cd".repeat(32));
  const pack = new Uint8Array([...new Uint8Array(0x34), ...tail]);
  const trailer = decodePackTrailer(pack.subarray(pack.length - PACK_TRAILER_BYTES));
  const header = pack.subarray(0x34, 0x34 + trailer.headerBytes);
  assert.equal(decodePackHeader(header, trailer, pack.length)[0].compression, "sealed");
  assert.throws(
    () =>
      encodePackTail([
        { id, kind: "chunk", compression: "sealed", storedLength: 5, rawLength: 4, offset: 0 },
      ]),
    RangeError,
  );
  // A sealed entry of 0x34 stored bytes for 0x33 raw (its header's digest right): refused on read.
  const bad = encodePackTail([
    { id, kind: "chunk", compression: "zstd", storedLength: 0x34, rawLength: 0x33, offset: 0 },
  ]);
  bad[1] = COMPRESSION_SEALED;
  bad.set(sha256(bad.subarray(0, 44)).subarray(0, 16), 44 + 4);
  assert.throws(
    () => decodePackHeader(bad.subarray(0, 44), decodePackTrailer(bad.subarray(44)), 0x34 + 72),
    CorruptPackError,
  );
  assert.throws(() => decodeBlob(new Uint8Array(4), "sealed", 4), SealedBlobError);
});

Deno.test("mode rule: a sealed blob to a user without key slots, a raw or zstd one to a user with one, is refused; nothing stored, the session goes on", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));

  const plain = snapshots.openSession(PLAIN);
  const sealed = sealedData(1, 4 * KiB);
  await assert.rejects(plain.put(sealed), RepositoryModeError);
  assert.deepEqual(await plain.missing([sealed.id]), [true], "nothing stored");
  const raw = dataBlob(noise(2, 4 * KiB));
  await plain.put(raw);
  const rawTree = treeBlob([raw.id]);
  await plain.put(rawTree);
  assert.deepEqual(await plain.commit(snapshotOf(rawTree)), { missing: [] });
  await plain.close();

  const encrypted = snapshots.openSession(SEALED);
  const error = await encrypted.put(raw).catch((error) => error);
  assert.ok(error instanceof RepositoryModeError && error.encrypted, String(error));
  await assert.rejects(encrypted.put(dataBlob(new Uint8Array(8 * KiB), true)), RepositoryModeError);
  assert.deepEqual(await encrypted.missing([raw.id]), [true], "nothing stored");
  await encrypted.put(sealed);
  const tree = sealedTree([sealed.id], 3);
  await encrypted.put(tree);
  assert.deepEqual(await encrypted.commit(snapshotOf(tree)), { missing: [] });
  await encrypted.close();
  assert.equal(codeOf(t.root, SEALED, sealed.id), COMPRESSION_SEALED);
  assert.equal(codeOf(t.root, SEALED, tree.id), COMPRESSION_SEALED);
  await assertReads(snapshots, sealed.id, sealed.bytes);
  await assertReads(snapshots, tree.id, tree.bytes);
  const reader = snapshots.blobReader!(SEALED);
  assert.equal((await reader.read(tree.id)).encoding, "sealed");
  reader.close();
});

Deno.test("sealed limits: the kind's raw limit plus the seal's overhead; the length must be the raw length", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const session = snapshots.openSession(SEALED);
  const largest = sealedData(4, MAX_DATA_BLOB_BYTES + MAX_SEAL_OVERHEAD);
  await session.put(largest);
  await assert.rejects(
    session.put(sealedData(5, MAX_DATA_BLOB_BYTES + MAX_SEAL_OVERHEAD + 1)),
    LimitExceededError,
  );
  const short = sealedData(6, 100);
  await assert.rejects(session.put({ ...short, rawLength: 101 }), BlobMismatchError);
  const withRefs = { ...sealedData(7, 100), refs: [largest.id] };
  await assert.rejects(session.put(withRefs), BlobMismatchError, "a data blob names nothing");
  assert.deepEqual(await session.missing([short.id, largest.id]), [true, false]);
  await session.close();
  await assertReads(snapshots, largest.id, largest.bytes);
});

Deno.test("verify counts sealed chunks apart and finds nothing wrong with them, even with bytes it cannot check", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const session = snapshots.openSession(SEALED);
  const blobs = [sealedData(10, 20 * KiB), sealedData(11, 30 * KiB)];
  const tree = sealedTree(blobs.map((b) => b.id), 12);
  for (const blob of [...blobs, tree]) await session.put(blob);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  // A flipped byte in a seal: only the client can tell (its tag), the server sees its length.
  const at = withIndex(t.root, (db) =>
    db.prepare(
      "SELECT b.offset, p.name FROM blobs AS b JOIN packs AS p USING (pack_no) WHERE b.id = ?",
    ).get(blobs[0].id) as { offset: number; name: string });
  const path = `${t.root}/${REPOSITORY_DIR_NAME}/${at.name}`;
  const packBytes = await Deno.readFile(path);
  packBytes[at.offset + 7] ^= 1;
  await Deno.writeFile(path, packBytes);
  const report = await verifyRoot({ root: t.root, data: "all" });
  assert.deepEqual(report.problems, []);
  assert.equal(report.sealedChunks, 3);
  assert.equal(report.chunksRead, 0, "none hashed");
});

Deno.test("DropBlobs drops a sealed blob as the client asks (the server cannot hash it); missing until sent again", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const blob = sealedData(20, 20 * KiB);
  const tree = sealedTree([blob.id], 21);
  let session = snapshots.openSession(SEALED);
  for (const b of [blob, tree]) await session.put(b);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();

  assert.deepEqual((await snapshots.dropBlobs(SEALED, [blob.id])).map(toHex), [toHex(blob.id)]);
  session = snapshots.openSession(SEALED);
  assert.deepEqual(await session.missing([blob.id, tree.id]), [true, false]);
  const again = sealedTree([blob.id], 22);
  await session.put(again);
  assert.deepEqual((await session.commit(snapshotOf(again))).missing.map(toHex), [toHex(blob.id)]);
  await session.put(blob);
  assert.deepEqual(await session.commit(snapshotOf(again)), { missing: [] });
  await session.close();
  await assertReads(snapshots, blob.id, blob.bytes);
  assert.deepEqual((await verifyRoot({ root: t.root, data: "all" })).problems, []);
});

Deno.test("garbage collection's repack copies sealed blobs byte for byte, still sealed", async () => {
  let now = T0;
  await using t = await openTempStorage({ now: () => now, packTargetBytes: 4 * 1024 * KiB });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const kept = sealedData(30, 10 * KiB);
  const gone = sealedData(31, 60 * KiB);
  const keptTree = sealedTree([kept.id], 32);
  const goneTree = sealedTree([gone.id], 33);
  const session = snapshots.openSession(SEALED);
  for (const blob of [kept, gone, keptTree, goneTree]) await session.put(blob);
  assert.deepEqual(await session.commit(snapshotOf(keptTree)), { missing: [] });
  assert.deepEqual(await session.commit(snapshotOf(goneTree)), { missing: [] });
  await session.close();
  const packOf = () =>
    withIndex(t.root, (db) =>
      (db.prepare(
        "SELECT p.name FROM blobs AS b JOIN packs AS p USING (pack_no) WHERE b.id = ?",
      ).get(kept.id) as { name: string }).name);
  const before = packOf();

  await snapshots.forgetSnapshot(SEALED, snapshotOf(goneTree).id);
  now += 1000;
  const report = await t.storage.collectGarbage();
  assert.equal(report.chunksRemoved, 2, "the forgotten tree and its blob");
  assert.equal(report.packsRepacked, 1);
  assert.notEqual(packOf(), before, "moved to a new pack");
  assert.equal(codeOf(t.root, SEALED, kept.id), COMPRESSION_SEALED);
  await assertReads(snapshots, kept.id, kept.bytes);
  await assertReads(snapshots, keptTree.id, keptTree.bytes);
  const report2 = await verifyRoot({ root: t.root, data: "all" });
  assert.deepEqual(report2.problems, []);
  assert.equal(report2.sealedChunks, 2);
});

Deno.test("a file's chunk (v2) whose id is a sealed blob of the user is refused, never read from the seal", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(SEALED, fakeSlot(1));
  const file = noise(40, 200 * KiB);
  // Another user's chunks are their own: the same file stores for them.
  await put(t.storage, PLAIN, "clash.bin", file);
  const [chunk] = chunksOf(t.root, PLAIN, "clash.bin");
  const clash = { ...sealedData(41, 2 * KiB), id: chunk.id };
  const session = snapshots.openSession(SEALED);
  await session.put(clash);
  await session.close();
  await assert.rejects(put(t.storage, SEALED, "clash.bin", file), SealedChunkError);
  await assert.rejects(put(t.storage, SEALED, "clash.bin", file), RepositoryModeError);
  await assertReads(snapshots, clash.id, clash.bytes);
});

Deno.test("the mode is checked again at the commit: a plain session that began before the first key slot makes no plain snapshot", async () => {
  await using t = await openTempStorage({ now: () => 1_770_000_000_000 });
  const snapshots = t.storage.snapshots!;
  const session = snapshots.openSession(1);
  try {
    const raw = dataBlob(noise(2, 4 * KiB));
    await session.put(raw); // the session takes the repository to be plain
    await snapshots.addKeySlot(1, fakeSlot(1)); // another connection's init
    const tree = treeBlob([raw.id]);
    await session.put(tree);
    await assert.rejects(session.commit(snapshotOf(tree)), RepositoryModeError);
  } finally {
    await session.close();
  }
  assert.deepEqual(await Array.fromAsync(snapshots.listSnapshots(1)), []);
  // A first slot "only as the first" (an init) where one exists: refused, nothing stored.
  await assert.rejects(
    snapshots.addKeySlot(1, fakeSlot(2), { first: true }),
    EncryptedAlreadyError,
  );
  assert.equal((await snapshots.listKeySlots(1)).length, 1);
});
