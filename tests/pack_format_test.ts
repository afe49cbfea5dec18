import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { toHex } from "../common/hex.ts";
import {
  CorruptPackError,
  decodePackHeader,
  decodePackTrailer,
  encodePackTail,
  MAX_PACK_BLOBS,
  PACK_ENTRY_BYTES,
  PACK_TRAILER_BYTES,
  type PackBlob,
} from "../repository/pack_format.ts";

Deno.test.sanitizer({ ops: true, resources: true });

function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: clean.length / 2 },
    (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

const TWO_BLOBS: PackBlob[] = [
  {
    id: new Uint8Array(32).fill(0x11),
    kind: "chunk",
    compression: "none",
    storedLength: 5,
    rawLength: 5,
    offset: 0,
  },
  {
    id: new Uint8Array(32).fill(0x22),
    kind: "chunk",
    compression: "zstd",
    storedLength: 0x0102,
    rawLength: 0x0001_0000,
    offset: 5,
  },
];
/** The tail of a pack of those two blobs; the digest was checked with Python's hashlib. */
const TWO_BLOBS_TAIL = fromHex(`
  01 00 0000 05000000 05000000 1111111111111111111111111111111111111111111111111111111111111111
  01 01 0000 02010000 00000100 2222222222222222222222222222222222222222222222222222222222222222
  02000000 1daf3d2aff87569e4e8947ce63dac69c 424b5041434b3031
`);
const TWO_BLOBS_PACK_SIZE = 5 + 0x0102 + TWO_BLOBS_TAIL.length;

/** Splits a tail (header + trailer) and decodes it as a reader would. */
function decodeTail(tail: Uint8Array, packSize: number): PackBlob[] {
  const trailer = decodePackTrailer(tail.subarray(tail.length - PACK_TRAILER_BYTES));
  return decodePackHeader(tail.subarray(0, tail.length - PACK_TRAILER_BYTES), trailer, packSize);
}

/** `tail` with `edit` applied to its header and the trailer's digest made to match again. */
function edited(tail: Uint8Array, edit: (header: Uint8Array, view: DataView) => void): Uint8Array {
  const copy = tail.slice();
  const headerBytes = copy.length - PACK_TRAILER_BYTES;
  const header = copy.subarray(0, headerBytes);
  edit(header, new DataView(copy.buffer, 0, headerBytes));
  copy.set(createHash("sha256").update(header).digest().subarray(0, 16), headerBytes + 4);
  return copy;
}

Deno.test("the tail of a pack of two blobs is byte for byte the vector", () => {
  assert.equal(toHex(encodePackTail(TWO_BLOBS)), toHex(TWO_BLOBS_TAIL));
  assert.equal(TWO_BLOBS_TAIL.length, 2 * PACK_ENTRY_BYTES + PACK_TRAILER_BYTES);
});

Deno.test("the vector decodes to the two blobs, offsets computed", () => {
  const trailer = decodePackTrailer(TWO_BLOBS_TAIL.subarray(2 * PACK_ENTRY_BYTES));
  assert.equal(trailer.count, 2);
  assert.equal(trailer.headerBytes, 88);
  assert.equal(toHex(trailer.headerDigest), "1daf3d2aff87569e4e8947ce63dac69c");
  assert.deepEqual(decodeTail(TWO_BLOBS_TAIL, TWO_BLOBS_PACK_SIZE), TWO_BLOBS);
});

Deno.test("any list of blobs round-trips through the tail", () => {
  const blob = fc.record({
    id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    compression: fc.constantFrom("none" as const, "zstd" as const),
    storedLength: fc.integer({ min: 1, max: 0xffff_ffff }),
    rawLength: fc.integer({ min: 0, max: 0xffff_ffff }),
  });
  fc.assert(fc.property(fc.array(blob, { minLength: 1, maxLength: 40 }), (drawn) => {
    let offset = 0;
    const blobs: PackBlob[] = drawn.map((b) => {
      const rawLength = b.compression === "none" ? b.storedLength : b.rawLength;
      const placed = { ...b, kind: "chunk" as const, rawLength, offset };
      offset += b.storedLength;
      return placed;
    });
    const tail = encodePackTail(blobs);
    assert.deepEqual(decodeTail(tail, offset + tail.length), blobs);
  }));
});

Deno.test("a pack of MAX_PACK_BLOBS empty blobs round-trips; one more is refused both ways", () => {
  const empty = (offset: number): PackBlob => ({
    id: new Uint8Array(32),
    kind: "chunk",
    compression: "none",
    storedLength: 0,
    rawLength: 0,
    offset,
  });
  const blobs = Array.from({ length: MAX_PACK_BLOBS }, () => empty(0));
  const tail = encodePackTail(blobs);
  assert.equal(decodeTail(tail, tail.length).length, MAX_PACK_BLOBS);
  assert.throws(() => encodePackTail([...blobs, empty(0)]), RangeError);

  const trailer = tail.slice(tail.length - PACK_TRAILER_BYTES);
  new DataView(trailer.buffer).setUint32(0, MAX_PACK_BLOBS + 1, true);
  assert.throws(() => decodePackTrailer(trailer), CorruptPackError);
  new DataView(trailer.buffer).setUint32(0, 0xffff_ffff, true);
  assert.throws(() => decodePackTrailer(trailer), /count: expected 1 to 65536, got 4294967295/);
});

Deno.test("decoded ids are copies: the header buffer may be reused", () => {
  const tail = TWO_BLOBS_TAIL.slice();
  const blobs = decodeTail(tail, TWO_BLOBS_PACK_SIZE);
  tail.fill(0);
  assert.deepEqual(blobs[1].id, new Uint8Array(32).fill(0x22));
});

Deno.test("a trailer with a bad magic, a wrong length or a count of 0 is refused", () => {
  const trailer = TWO_BLOBS_TAIL.slice(2 * PACK_ENTRY_BYTES);
  const badMagic = trailer.slice();
  badMagic[PACK_TRAILER_BYTES - 1] = 0x32; // "BKPACK02"
  assert.throws(() => decodePackTrailer(badMagic), /magic: expected "BKPACK01", got "BKPACK02"/);
  assert.throws(() => decodePackTrailer(trailer.subarray(1)), CorruptPackError);
  assert.throws(() => decodePackTrailer(new Uint8Array(0)), CorruptPackError);
  const zero = trailer.slice();
  zero.fill(0, 0, 4);
  assert.throws(() => decodePackTrailer(zero), CorruptPackError);
});

Deno.test("a header that does not match the trailer's digest is refused", () => {
  const trailer = decodePackTrailer(TWO_BLOBS_TAIL.subarray(2 * PACK_ENTRY_BYTES));
  for (let at = 0; at < 2 * PACK_ENTRY_BYTES; at += 7) {
    const header = TWO_BLOBS_TAIL.slice(0, 2 * PACK_ENTRY_BYTES);
    header[at] ^= 0x01;
    assert.throws(
      () => decodePackHeader(header, trailer, TWO_BLOBS_PACK_SIZE),
      /does not match the trailer's digest/,
    );
  }
  const header = TWO_BLOBS_TAIL.subarray(0, PACK_ENTRY_BYTES);
  assert.throws(
    () => decodePackHeader(header, trailer, TWO_BLOBS_PACK_SIZE),
    /the trailer says 88 bytes, got 44/,
  );
});

Deno.test("blobs that do not fill exactly the space before the header are refused", () => {
  for (
    const packSize of [TWO_BLOBS_PACK_SIZE - 1, TWO_BLOBS_PACK_SIZE + 1, 0, TWO_BLOBS_TAIL.length]
  ) {
    assert.throws(
      () => decodeTail(TWO_BLOBS_TAIL, packSize),
      CorruptPackError,
      `pack size ${packSize}`,
    );
  }
  assert.throws(() => decodeTail(TWO_BLOBS_TAIL, -1), RangeError);
  assert.throws(() => decodeTail(TWO_BLOBS_TAIL, 1.5), RangeError);
});

Deno.test("an unknown kind or compression, or a nonzero reserved field, is refused", () => {
  const cases: [string, (header: Uint8Array, view: DataView) => void, RegExp][] = [
    ["kind 0", (h) => h[0] = 0, /entry 0: unknown kind 0/],
    ["kind 2", (h) => h[PACK_ENTRY_BYTES] = 2, /entry 1: unknown kind 2/],
    ["compression 3", (h) => h[PACK_ENTRY_BYTES + 1] = 3, /entry 1: unknown compression 3/],
    ["compression 255", (h) => h[1] = 255, /entry 0: unknown compression 255/],
    ["reserved low byte", (h) => h[2] = 1, /entry 0: reserved field is 1, not 0/],
    [
      "reserved high byte",
      (h) => h[PACK_ENTRY_BYTES + 3] = 0x80,
      /entry 1: reserved field is 32768/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    const tail = edited(TWO_BLOBS_TAIL, edit);
    assert.throws(() => decodeTail(tail, TWO_BLOBS_PACK_SIZE), CorruptPackError, name);
    assert.throws(() => decodeTail(tail, TWO_BLOBS_PACK_SIZE), message, name);
  }
  // The same edits without resealing: the digest catches them first.
  assert.throws(
    () => decodeTail(TWO_BLOBS_TAIL.map((b, i) => i === 0 ? 2 : b), TWO_BLOBS_PACK_SIZE),
    /digest/,
  );
});

Deno.test("lengths that contradict the compression are refused", () => {
  const rawDiffers = edited(TWO_BLOBS_TAIL, (_, view) => view.setUint32(8, 6, true));
  assert.throws(
    () => decodeTail(rawDiffers, TWO_BLOBS_PACK_SIZE),
    /uncompressed blob stores 5 bytes for 6/,
  );
  const emptyZstd = edited(
    TWO_BLOBS_TAIL,
    (_, view) => view.setUint32(PACK_ENTRY_BYTES + 4, 0, true),
  );
  assert.throws(
    () => decodeTail(emptyZstd, TWO_BLOBS_PACK_SIZE - 0x0102),
    /a zstd blob cannot be empty/,
  );
});

Deno.test("encoding refuses blobs out of place or out of range", () => {
  const [first, second] = TWO_BLOBS;
  const refused: [string, PackBlob[]][] = [
    ["no blobs", []],
    ["first offset not 0", [{ ...first, offset: 1 }]],
    ["a gap", [first, { ...second, offset: 6 }]],
    ["an overlap", [first, { ...second, offset: 4 }]],
    ["short id", [{ ...first, id: new Uint8Array(31) }]],
    ["long id", [{ ...first, id: new Uint8Array(33) }]],
    ["negative length", [{ ...second, offset: 0, storedLength: -1 }]],
    ["length above u32", [{ ...second, offset: 0, rawLength: 2 ** 32 }]],
    ["fractional length", [{ ...second, offset: 0, storedLength: 1.5 }]],
    ["none with lengths apart", [{ ...first, rawLength: 6 }]],
    ["unknown compression", [{ ...first, compression: "lz4" as "none" }]],
    ["unknown kind", [{ ...first, kind: "tree" as "chunk" }]],
  ];
  for (const [name, blobs] of refused) assert.throws(() => encodePackTail(blobs), RangeError, name);
});
