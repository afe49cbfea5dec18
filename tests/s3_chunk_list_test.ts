/**
 * The chunk tables of the S3 repository (`storage/s3/chunk_list.ts`): byte vectors of a list and
 * an index, round trips, and every malformed table refused with `CorruptStoreError`.
 */
import assert from "node:assert/strict";
import {
  chunkAt,
  type ChunkLocation,
  ChunkTableBuilder,
  decodeChunkTable,
  encodeChunkTable,
  sortedById,
} from "../storage/s3/chunk_list.ts";
import { CorruptStoreError } from "../storage/storage.ts";
import { toHex } from "../common/hex.ts";

const fromHex = (hex: string) =>
  Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));

Deno.test.sanitizer({ ops: true, resources: true });

const idOf = (byte: number) => new Uint8Array(32).fill(byte);
const chunks: ChunkLocation[] = [
  {
    id: idOf(0x22),
    pack: "0123456789abcdef.1",
    offset: 0,
    storedLength: 5,
    rawLength: 5,
    compression: "none",
  },
  {
    id: idOf(0x11),
    pack: "0123456789abcdef.1",
    offset: 5,
    storedLength: 3,
    rawLength: 10,
    compression: "zstd",
  },
  {
    id: idOf(0x33),
    pack: "fedcba9876543210.2",
    offset: 7,
    storedLength: 8,
    rawLength: 8,
    compression: "none",
  },
];
const tableOf = (list: ChunkLocation[]) => {
  const builder = new ChunkTableBuilder();
  for (const chunk of list) builder.add(chunk);
  return builder.table();
};

const header = (magic: string, packs: number, count: number) =>
  toHex(new TextEncoder().encode(magic)) +
  [packs, count].map((n) => n.toString(16).padStart(2, "0") + "000000").join("");
const name1 = "12" + toHex(new TextEncoder().encode("0123456789abcdef.1"));
const name2 = "12" + toHex(new TextEncoder().encode("fedcba9876543210.2"));
const entry = (byte: number, pack: string, offset: string, stored: string, raw: string) =>
  byte.toString(16).repeat(32) + pack + offset + stored + raw;
const entryA = entry(0x22, "00000000", "00000000", "05000000", "05000000");
const entryB = entry(0x11, "00000000", "05000000", "03000000", "0a000080"); // top bit: zstd
const entryC = entry(0x33, "01000000", "07000000", "08000000", "08000000");
const LIST_HEX = header("BKLIST01", 2, 3) + name1 + name2 + entryA + entryB + entryC;
const INDEX_HEX = header("BKIDX001", 2, 3) + name1 + name2 + entryB + entryA + entryC;

Deno.test("a list is BKLIST01, two counts, the pack names, then 48 bytes a chunk in file order", () => {
  const bytes = encodeChunkTable("list", tableOf(chunks));
  assert.equal(toHex(bytes), LIST_HEX);
  assert.equal(bytes.length, 16 + 2 * 19 + 3 * 48);
  const decoded = decodeChunkTable("list", bytes);
  assert.deepEqual(decoded.packs, ["0123456789abcdef.1", "fedcba9876543210.2"]);
  assert.deepEqual(
    Array.from(
      { length: decoded.count },
      (_, i) => ({ ...chunkAt(decoded, i), id: toHex(chunkAt(decoded, i).id) }),
    ),
    chunks.map((chunk) => ({ ...chunk, id: toHex(chunk.id) })),
  );
});

Deno.test("an index is the same table, BKIDX001, sorted by id", () => {
  const bytes = encodeChunkTable("index", sortedById(tableOf(chunks)));
  assert.equal(toHex(bytes), INDEX_HEX);
  assert.equal(chunkAt(decodeChunkTable("index", bytes), 0).rawLength, 10);
});

Deno.test("a malformed list or index is refused, never half-read", () => {
  const list = fromHex(LIST_HEX);
  const at = (hex: string, offset: number, bytes: Uint8Array = list) => {
    const copy = bytes.slice();
    copy.set(fromHex(hex), offset);
    return copy;
  };
  const entries = 16 + 2 * 19;
  const hostile: Record<string, Uint8Array> = {
    "empty": new Uint8Array(0),
    "short header": list.subarray(0, 15),
    "wrong magic": at("424b4c4953543032", 0),
    "an index's magic": fromHex(INDEX_HEX),
    "one byte short": list.subarray(0, list.length - 1),
    "one byte more": new Uint8Array([...list, 0]),
    "more chunks than bytes": at("04000000", 12),
    "a huge pack count": at("ffffffff", 8),
    "a pack name past the end": at("ff", 16),
    "an upper-case pack name": at("41", 17),
    "a pack name with a slash": at("2f", 20),
    "a pack name starting with a dot": at("2e", 17),
    "an empty pack name": fromHex(header("BKLIST01", 1, 0) + "00"),
    "a chunk in pack 2 of 2": at("02000000", entries + 32),
    "an empty chunk": at("0000000000000000", entries + 40),
    "a raw chunk over 8 MiB": at("0100800001008000", entries + 40),
    "a raw chunk stored at another length": at("06000000", entries + 40),
    "a zstd chunk larger stored than raw": at("0b000000", entries + 48 + 40),
    "a chunk past 4 GiB": at("ffffffff", entries + 2 * 48 + 36),
  };
  for (const [what, bytes] of Object.entries(hostile)) {
    assert.throws(() => decodeChunkTable("list", bytes), CorruptStoreError, what);
  }
  const index = fromHex(INDEX_HEX);
  const unsorted = encodeChunkTable("index", tableOf(chunks)); // file order: 0x22 before 0x11
  const twice = encodeChunkTable("index", tableOf([chunks[1], chunks[1]]));
  assert.throws(() => decodeChunkTable("index", unsorted), CorruptStoreError, "unsorted");
  assert.throws(() => decodeChunkTable("index", twice), CorruptStoreError, "an id twice");
  assert.throws(() => decodeChunkTable("index", list), CorruptStoreError, "a list's magic");
  assert.equal(decodeChunkTable("index", index).count, 3);
});

Deno.test("the builder refuses what a table cannot hold", () => {
  const builder = new ChunkTableBuilder();
  assert.throws(() => builder.add({ ...chunks[0], pack: "p/1/x" }), RangeError);
  assert.throws(() => builder.add({ ...chunks[0], rawLength: 8 * 1024 * 1024 + 1 }), RangeError);
  assert.throws(() => builder.add({ ...chunks[0], offset: 2 ** 32 }), RangeError);
});

Deno.test("a list of 2,000 chunks over 40 packs round-trips", () => {
  const many: ChunkLocation[] = Array.from({ length: 2000 }, (_, i) => ({
    id: crypto.getRandomValues(new Uint8Array(32)),
    pack: `${(i % 40).toString(16).padStart(16, "0")}.${i % 7}`,
    offset: i * 1000,
    storedLength: 1 + (i % 900),
    rawLength: 1000 + i,
    compression: "zstd",
  }));
  const decoded = decodeChunkTable("list", encodeChunkTable("list", tableOf(many)));
  assert.equal(decoded.count, 2000);
  for (const i of [0, 999, 1999]) {
    assert.deepEqual({ ...chunkAt(decoded, i), id: toHex(chunkAt(decoded, i).id) }, {
      ...many[i],
      id: toHex(many[i].id),
    });
  }
});
