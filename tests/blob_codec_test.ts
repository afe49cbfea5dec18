import assert from "node:assert/strict";
import { constants, zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import {
  CorruptBlobError,
  decodeBlob,
  encodeBlob,
  encodeBlobAsync,
  SAMPLE_FROM_BYTES,
} from "../repository/blob_codec.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const MiB = 1024 * KiB;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/** English-like text: words of a fixed vocabulary drawn by a seeded generator, Zipf-like. */
function textBytes(length: number, seed = 7): Uint8Array {
  const vocabulary = ("backup server client chunk pack index version retention quota store " +
    "the of and to in is that for it as was with be by on not this are or from at which").split(
      " ",
    );
  let x = seed;
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const rank = Math.floor(Math.exp(((x >>> 8) / 2 ** 24) * Math.log(vocabulary.length)));
    const word = vocabulary[rank - 1] + ((x & 15) === 0 ? ".\n" : " ") + (x % 9973);
    parts.push(word);
    size += word.length;
  }
  return new TextEncoder().encode(parts.join(" ")).subarray(0, length);
}

/** A frame header followed by `blocks` RLE blocks of `blockBytes` each (4 bytes per block). */
function rleFrame(header: number[], blockBytes: number, blocks: number): Uint8Array {
  const frame = new Uint8Array(ZSTD_MAGIC.length + header.length + 4 * blocks);
  frame.set([...ZSTD_MAGIC, ...header]);
  for (let block = 0; block < blocks; block++) {
    const blockHeader = (blockBytes << 3) | (1 << 1) | (block === blocks - 1 ? 1 : 0);
    const at = ZSTD_MAGIC.length + header.length + 4 * block;
    frame.set([blockHeader & 0xff, (blockHeader >> 8) & 0xff, blockHeader >> 16, 0x61], at);
  }
  return frame;
}

function refuses(stored: Uint8Array, rawLength: number, message: RegExp): void {
  assert.throws(() => decodeBlob(stored, "zstd", rawLength), CorruptBlobError);
  assert.throws(() => decodeBlob(stored, "zstd", rawLength), message);
}

Deno.test("text compresses to under 40% and decodes to the same bytes", () => {
  for (
    const length of [100, 4 * KiB, SAMPLE_FROM_BYTES - 1, SAMPLE_FROM_BYTES, MiB, 3 * MiB + 17]
  ) {
    const raw = textBytes(length);
    const { stored, compression } = encodeBlob(raw);
    assert.equal(compression, "zstd", `${length} bytes`);
    const bound = length < 4 * KiB ? 0.97 : 0.4; // a frame's header weighs on the smallest
    assert.ok(stored.length < bound * length, `${length} bytes stored in ${stored.length}`);
    assert.deepEqual([...stored.subarray(0, 4)], ZSTD_MAGIC);
    assert.deepEqual(decodeBlob(stored, "zstd", length), raw);
  }
});

Deno.test("text of any length round-trips as exactly one frame", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 600 * KiB }), fc.integer(), (length, seed) => {
      const raw = textBytes(length, seed);
      const { stored, compression } = encodeBlob(raw);
      assert.deepEqual(decodeBlob(stored, compression, length), raw);
    }),
    { numRuns: 60 },
  );
});

Deno.test("random bytes are stored as they are, the same array, and decode to themselves", () => {
  for (const length of [1, 100, 4 * KiB, SAMPLE_FROM_BYTES - 1, SAMPLE_FROM_BYTES, MiB, 8 * MiB]) {
    const raw = randomBytes(length);
    const encoded = encodeBlob(raw);
    assert.equal(encoded.compression, "none", `${length} bytes`);
    assert.equal(encoded.stored, raw, `${length} bytes: no copy`);
    assert.equal(decodeBlob(raw, "none", length), raw);
  }
});

Deno.test("small blobs told noise without zstd still compress when they repeat or are text", () => {
  const piece = randomBytes(2 * KiB);
  const repeated = new Uint8Array(8 * KiB);
  for (let at = 0; at < repeated.length; at += piece.length) repeated.set(piece, at);
  for (const raw of [repeated, textBytes(5 * KiB), textBytes(SAMPLE_FROM_BYTES - 1)]) {
    const { stored, compression } = encodeBlob(raw);
    assert.equal(compression, "zstd", `${raw.length} bytes`);
    assert.ok(stored.length < raw.length / 2, `${raw.length} bytes stored in ${stored.length}`);
    assert.deepEqual(decodeBlob(stored, compression, raw.length), raw);
  }
});

Deno.test("an empty blob is stored as it is", () => {
  const empty = new Uint8Array(0);
  assert.deepEqual(encodeBlob(empty), { stored: empty, compression: "none" });
  assert.equal(decodeBlob(empty, "none", 0).length, 0);
});

Deno.test("a chunk half random, half text is compressed: the sample is spread over it", () => {
  const raw = new Uint8Array(MiB);
  raw.set(randomBytes(MiB / 2));
  raw.set(textBytes(MiB / 2), MiB / 2);
  const { stored, compression } = encodeBlob(raw);
  assert.equal(compression, "zstd");
  assert.ok(stored.length < 0.7 * MiB, `stored in ${stored.length}`);
  assert.deepEqual(decodeBlob(stored, compression, MiB), raw);
});

Deno.test("seeing that random 1 MiB chunks do not compress costs a fraction of compressing", () => {
  const chunks = Array.from({ length: 16 }, () => randomBytes(MiB));
  const best = (pass: () => void) => {
    let fastest = Infinity;
    for (let round = 0; round < 3; round++) {
      const start = performance.now();
      pass();
      fastest = Math.min(fastest, performance.now() - start);
    }
    return fastest;
  };
  const level3 = { params: { [constants.ZSTD_c_compressionLevel]: 3 } };
  const compressing = best(() => chunks.forEach((chunk) => zstdCompressSync(chunk, level3)));
  const deciding = best(() =>
    chunks.forEach((chunk) => assert.equal(encodeBlob(chunk).stored, chunk))
  );
  // A 64 KiB sample per 1 MiB chunk decides: far less than compressing every chunk.
  assert.ok(deciding < compressing / 3, `deciding ${deciding} ms, compressing ${compressing} ms`);
});

Deno.test("stored frames are plain arrays that do not pin a larger buffer", () => {
  for (const length of [100, 64 * KiB, MiB]) {
    const { stored } = encodeBlob(textBytes(length));
    assert.equal(stored.constructor, Uint8Array);
    assert.ok(
      stored.buffer.byteLength <= 2 * stored.length,
      `${length}: ${stored.buffer.byteLength}`,
    );
  }
});

Deno.test("a decoded blob is exactly rawLength bytes in a buffer of at most rawLength + 1", () => {
  const raw = textBytes(MiB);
  const decoded = decodeBlob(encodeBlob(raw).stored, "zstd", MiB);
  assert.equal(decoded.constructor, Uint8Array);
  assert.ok(decoded.buffer.byteLength <= MiB + 1, `${decoded.buffer.byteLength}`);
});

Deno.test("encodeBlobAsync gives what encodeBlob gives", async () => {
  for (const raw of [textBytes(MiB), randomBytes(MiB), new Uint8Array(0)]) {
    assert.deepEqual(await encodeBlobAsync(raw), encodeBlob(raw));
  }
});

Deno.test("a wrong rawLength is refused", () => {
  const raw = textBytes(64 * KiB);
  const { stored } = encodeBlob(raw);
  for (const wrong of [0, 64 * KiB - 1, 64 * KiB + 1, 2 * 64 * KiB]) {
    refuses(stored, wrong, new RegExp(`expected a frame declaring ${wrong} bytes, got 65536`));
  }
  assert.throws(() => decodeBlob(raw, "none", raw.length + 1), CorruptBlobError);
  assert.throws(() => decodeBlob(raw, "none", raw.length - 1), /expected 65535 bytes, got 65536/);
  assert.throws(() => decodeBlob(stored, "zstd", -1), RangeError);
});

Deno.test("a frame cut short, or followed by anything, is refused", () => {
  const raw = textBytes(256 * KiB);
  const { stored } = encodeBlob(raw);
  for (const cut of [1, 2, 4, stored.length >> 1, stored.length - 4]) {
    refuses(stored.subarray(0, stored.length - cut), raw.length, /cut short|too few/);
  }
  refuses(new Uint8Array([...stored, 0]), raw.length, /1 bytes after the frame/);
  refuses(new Uint8Array([...stored, ...stored]), raw.length, /bytes after the frame/);
});

Deno.test("bytes that are not a zstd frame of the expected outline are refused", () => {
  const raw = textBytes(4 * KiB);
  refuses(randomBytes(1000), raw.length, /is not a zstd frame's/);
  refuses(new Uint8Array(0), 0, /too few/);
  // A skippable frame (magic 0x184D2A50), which zstd would skip over.
  refuses(
    new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]),
    0,
    /not a zstd frame's/,
  );
  // A frame without a declared content size (no pledged size), though it decodes to the bytes.
  const undeclared = zstdCompressSync(raw);
  refuses(undeclared, raw.length, /declaring 4096 bytes, got none declared/);
  // The reserved bit, or a dictionary id (flag 1, id 7), in the frame header.
  refuses(rleFrame([0x20 | 0x08, 100], 100, 1), 100, /reserved bit/);
  refuses(rleFrame([0x20 | 0x01, 7, 100], 100, 1), 100, /names a dictionary/);
  // A block of the reserved type.
  const reservedBlock = rleFrame([0x20, 100], 100, 1);
  reservedBlock[6] |= 0x06;
  refuses(reservedBlock, 100, /reserved type/);
  assert.throws(() => decodeBlob(raw, "lz4" as "zstd", raw.length), /unknown compression "lz4"/);
});

Deno.test("a hostile frame declaring a huge size is refused before zstd allocates anything", () => {
  // Single segment, 8-byte content size 2^40, one RLE block: zstd would size its output by it.
  const huge = rleFrame([0xe0, 0, 0, 0, 0, 0, 1, 0, 0], 1000, 1);
  const rss = Deno.memoryUsage().rss;
  refuses(huge, 1000, /declaring 1000 bytes, got 1099511627776/);
  assert.ok(Deno.memoryUsage().rss - rss < 64 * MiB);
});

Deno.test("a frame that would decode to 1 GiB is refused at once, whatever its header says", () => {
  // No content size, a 128 KiB window, 8192 RLE blocks of 128 KiB: 32 KiB that a plain
  // zstdDecompressSync turns into 1 GiB (its time and memory: docs/repository.md).
  const undeclared = rleFrame([0x00, 0x38], 128 * KiB, 8192);
  // The same blocks under a header declaring the 64 KiB the index expects: zstd stops at the bound.
  const understated = rleFrame([0xa0, 0, 0, 1, 0], 64 * KiB, 16384);
  const rss = Deno.memoryUsage().rss;
  const start = performance.now();
  refuses(undeclared, 64 * KiB, /got none declared/);
  refuses(understated, 64 * KiB, /does not decode/);
  assert.ok(performance.now() - start < 1000, `${performance.now() - start} ms`);
  assert.ok(Deno.memoryUsage().rss - rss < 64 * MiB);
});
