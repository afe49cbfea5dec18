/**
 * The S3 repository's snapshot objects, byte for byte (docs/snapshots_plan.md §7): a snapshot
 * session's index object (BKIDX002, a kind per entry; BKIDX001 reads as all data), the tree
 * references object (BKTREF01), a snapshot's key and body (BKSNAP01). Pure: no store.
 */
import assert from "node:assert/strict";
import {
  chunkAt,
  ChunkTableBuilder,
  decodeChunkTable,
  encodeChunkTable,
} from "../storage/s3/chunk_list.ts";
import {
  decodeSnapshot,
  decodeTreeRefs,
  encodeSnapshot,
  encodeTreeRefs,
  parseSnapshotKey,
  sessionObjects,
  snapshotKey,
} from "../storage/s3/snapshot_objects.ts";
import { CorruptStoreError } from "../storage/errors.ts";

Deno.test.sanitizer?.({ ops: true, resources: true });

const hex = (text: string) => Uint8Array.fromHex(text.replace(/\s+/g, ""));
const id = (byte: number) => new Uint8Array(32).fill(byte);
const ascii = (text: string) => new TextEncoder().encode(text).toHex();

function table() {
  const builder = new ChunkTableBuilder();
  builder.add({
    id: id(0x01),
    pack: "ab.1",
    offset: 16,
    storedLength: 5,
    rawLength: 5,
    compression: "none",
  });
  builder.add({
    id: id(0x02),
    pack: "ab.1",
    offset: 21,
    storedLength: 9,
    rawLength: 7,
    compression: "zstd",
    kind: "tree",
  });
  return builder.table();
}

const BKIDX002 = ascii("BKIDX002") + "01000000" + "02000000" + "04" + ascii("ab.1") +
  "01".repeat(32) + "00000000" + "10000000" + "05000000" + "05000000" +
  "02".repeat(32) + "00000000" + "15000000" + "09000000" + "070000c0";

Deno.test("a snapshot session's index is BKIDX002, a tree flagged by bit 30 of the raw length", () => {
  assert.equal(encodeChunkTable("blobs", table()).toHex(), BKIDX002);
  const decoded = decodeChunkTable("blobs", hex(BKIDX002));
  assert.equal(chunkAt(decoded, 0).kind, undefined);
  assert.deepEqual({ ...chunkAt(decoded, 1), id: undefined }, {
    id: undefined,
    pack: "ab.1",
    offset: 21,
    storedLength: 9,
    rawLength: 7,
    compression: "zstd",
    kind: "tree",
  });
});

Deno.test("BKIDX001 reads as a blob index of data; it holds no tree, and BKIDX002 is no BKIDX001", () => {
  const builder = new ChunkTableBuilder();
  builder.add({
    id: id(1),
    pack: "ab.1",
    offset: 0,
    storedLength: 5,
    rawLength: 5,
    compression: "none",
  });
  const v1 = encodeChunkTable("index", builder.table());
  assert.equal(new TextDecoder().decode(v1.subarray(0, 8)), "BKIDX001");
  const read = decodeChunkTable("blobs", v1);
  assert.equal(read.count, 1);
  assert.equal(chunkAt(read, 0).kind, undefined);
  assert.throws(() => encodeChunkTable("index", table()), RangeError);
  assert.throws(() => encodeChunkTable("list", table()), RangeError);
  assert.throws(() => decodeChunkTable("index", hex(BKIDX002)), CorruptStoreError);
  // A tree's bit in a BKIDX001 object (its magic swapped in) is refused.
  const forged = hex(BKIDX002);
  forged.set(new TextEncoder().encode("BKIDX001"));
  assert.throws(() => decodeChunkTable("blobs", forged), CorruptStoreError);
});

Deno.test("BKIDX002 allows a tree past 8 MiB and zstd up to 64 KiB over raw, no more", () => {
  const big = new ChunkTableBuilder();
  big.add({
    id: id(3),
    pack: "p.1",
    offset: 0,
    storedLength: 9 << 20,
    rawLength: 9 << 20,
    compression: "none",
    kind: "tree",
  });
  assert.equal(
    chunkAt(decodeChunkTable("blobs", encodeChunkTable("blobs", big.table())), 0).rawLength,
    9 << 20,
  );
  const over = (extra: number) => {
    const builder = new ChunkTableBuilder();
    builder.add({
      id: id(4),
      pack: "p.1",
      offset: 0,
      storedLength: 10 + extra,
      rawLength: 10,
      compression: "zstd",
    });
    return encodeChunkTable("blobs", builder.table());
  };
  assert.equal(decodeChunkTable("blobs", over(64 * 1024)).count, 1);
  assert.throws(() => decodeChunkTable("blobs", over(64 * 1024 + 1)), CorruptStoreError);
});

const BKTREF01 = ascii("BKTREF01") + "02000000" +
  "0a".repeat(32) + "02000000" + "01".repeat(32) + "02".repeat(32) +
  "0b".repeat(32) + "00000000";

Deno.test("a tree-refs object lists trees by id, each with its references", () => {
  const trees = [
    { id: id(0x0a), refs: hex("01".repeat(32) + "02".repeat(32)) },
    { id: id(0x0b), refs: new Uint8Array(0) },
  ];
  assert.equal(encodeTreeRefs(trees).toHex(), BKTREF01);
  const decoded = decodeTreeRefs(hex(BKTREF01));
  assert.equal(decoded.length, 2);
  assert.equal(decoded[0].refs.toHex(), "01".repeat(32) + "02".repeat(32));
  assert.equal(decoded[1].refs.length, 0);
  assert.throws(() => encodeTreeRefs([trees[1], trees[0]]), RangeError);
});

Deno.test("a tree-refs object that is cut, padded, unsorted or miscounted is refused", () => {
  const bytes = hex(BKTREF01);
  for (
    const bad of [
      bytes.subarray(0, bytes.length - 1),
      hex(BKTREF01 + "00"),
      hex(BKTREF01.replace("02000000", "03000000")),
      hex(ascii("BKTREF02") + BKTREF01.slice(16)),
      hex(
        ascii("BKTREF01") + "02000000" + "0b".repeat(32) + "00000000" + "0a".repeat(32) +
          "00000000",
      ),
      hex(ascii("BKTREF01") + "01000000" + "0a".repeat(32) + "ffffffff"),
    ]
  ) {
    assert.throws(() => decodeTreeRefs(bad), CorruptStoreError);
  }
});

Deno.test("a snapshot's key sorts by its stored time; its body is the root and the record", () => {
  const key = snapshotKey(7, 1_765_000_000_123, id(0xcd));
  assert.equal(key, "s/7/001765000000123." + "cd".repeat(32));
  assert.ok(snapshotKey(7, 999, id(0xff)) < snapshotKey(7, 1000, id(0x00)));
  assert.deepEqual(parseSnapshotKey(key.slice(4)), { storedMs: 1_765_000_000_123, id: id(0xcd) });
  assert.equal(parseSnapshotKey("1765000000123." + "cd".repeat(32)), undefined);
  assert.equal(parseSnapshotKey("001765000000123." + "CD".repeat(32)), undefined);
  const body = encodeSnapshot(id(0xee), new TextEncoder().encode("{}"));
  assert.equal(body.toHex(), ascii("BKSNAP01") + "ee".repeat(32) + ascii("{}"));
  assert.deepEqual(decodeSnapshot(body), {
    tree: id(0xee),
    record: new TextEncoder().encode("{}"),
  });
  assert.throws(() => decodeSnapshot(body.subarray(0, 39)), CorruptStoreError);
  assert.deepEqual(sessionObjects(7, "00112233445566ff", 2), {
    index: "x/7/snap.00112233445566ff.2",
    refs: "t/7/00112233445566ff.2",
  });
});
