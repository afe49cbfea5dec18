/**
 * fast-check generators of hostile input for the backup protocol: nasty names, valid frames, and
 * frames mutated, truncated and glued together.
 *
 * @module
 */
import fc from "fast-check";
import { Op } from "../protocol/constants.ts";
import { concatBytes } from "../harness/bytes.ts";

const encoder = new TextEncoder();

/** Pieces that names are built from: traversal, separators, control bytes, look-alikes, long runs. */
const NASTY_PIECES = [
  "..",
  ".",
  "",
  "a",
  "B",
  "file.txt",
  "\\",
  "\0",
  "\n",
  "\x1f",
  "\x7f",
  "é",
  "e\u0301",
  "\uFF0E\uFF0E", // fullwidth dots
  "\u2215", // division slash
  "\u2024\u2024", // one-dot leaders
  "%2e%2e",
  "~",
  "CON",
  "😀",
  "a".repeat(255),
  "a".repeat(256),
  "1", // another user's folder name
  ".tmp", // the server's temp folder name
];

/** Name bytes: nasty pieces joined by `/` (or `\`), sometimes raw random bytes, sometimes broken UTF-8. */
export const nastyNameBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.array(fc.constantFrom(...NASTY_PIECES), { minLength: 1, maxLength: 5 }),
        fc.constantFrom("/", "/", "/", "\\", "//"),
        fc.boolean(),
      )
      .map(([pieces, separator, leading]) =>
        encoder.encode((leading ? separator : "") + pieces.join(separator))
      ),
  },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom(0xff, 0xc0, 0xe2, 0xed))
      .map(([text, bad]) => Uint8Array.from([...encoder.encode(text), bad])),
  },
);

/** A request as fields, before encoding; name bytes are raw so that invalid names get through. */
export interface RawRequest {
  userId: number;
  version: number;
  op: number;
  name: Uint8Array;
  payload: Uint8Array;
}

/** Requests with mostly-known ops and user ids, nasty or plain names and small payloads. */
export const rawRequest: fc.Arbitrary<RawRequest> = fc.record({
  userId: fc.oneof(fc.constantFrom(1, 2, 3), fc.nat({ max: 0xffff_ffff })),
  version: fc.oneof(fc.constant(1), fc.nat({ max: 255 })),
  op: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(Op.Backup, Op.Retrieve, Op.Delete, Op.List) },
    { weight: 1, arbitrary: fc.nat({ max: 255 }) },
  ),
  name: fc.oneof(
    { weight: 1, arbitrary: nastyNameBytes },
    {
      weight: 1,
      arbitrary: fc.constantFrom("a.txt", "dir/b.bin", "link", "known.txt").map((n) =>
        encoder.encode(n)
      ),
    },
  ),
  payload: fc.uint8Array({ maxLength: 64 }),
});

/** Encodes a raw request the way a client would, with no checks at all. */
export function encodeRaw(request: RawRequest): Uint8Array {
  const hasName = request.op !== Op.List;
  const isBackup = request.op === Op.Backup;
  const size = 6 + (hasName ? 2 + request.name.length : 0) +
    (isBackup ? 4 + request.payload.length : 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, request.userId, true);
  bytes[4] = request.version;
  bytes[5] = request.op;
  let offset = 6;
  if (hasName) {
    view.setUint16(offset, request.name.length & 0xffff, true);
    bytes.set(request.name, offset + 2);
    offset += 2 + request.name.length;
  }
  if (isBackup) {
    view.setUint32(offset, request.payload.length, true);
    bytes.set(request.payload, offset + 4);
  }
  return bytes;
}

/** A byte-level change to a frame. */
type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; value: number }
  | { kind: "nameLength"; value: number }
  | { kind: "size"; value: number }
  | { kind: "none" };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("flip" as const),
      at: fc.nat(),
      value: fc.nat({ max: 255 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("nameLength" as const),
      value: fc.oneof(fc.constantFrom(0, 1024, 1025, 0xffff), fc.nat({ max: 0xffff })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("size" as const),
      value: fc.oneof(fc.constantFrom(0, 0xffff_ffff, 2 ** 20 + 1), fc.nat({ max: 0xffff_ffff })),
    }),
  },
);

function mutate(frame: Uint8Array, change: Mutation): Uint8Array {
  const bytes = frame.slice();
  const view = new DataView(bytes.buffer);
  switch (change.kind) {
    case "truncate":
      return bytes.subarray(0, change.at % (bytes.length + 1));
    case "flip":
      if (bytes.length > 0) bytes[change.at % bytes.length] = change.value;
      return bytes;
    case "nameLength":
      if (bytes.length >= 8 && bytes[5] !== Op.List) view.setUint16(6, change.value, true);
      return bytes;
    case "size": {
      const nameLength = bytes.length >= 8 ? view.getUint16(6, true) : 0;
      const at = 8 + nameLength;
      if (bytes[5] === Op.Backup && bytes.length >= at + 4) view.setUint32(at, change.value, true);
      return bytes;
    }
    case "none":
      return bytes;
  }
}

/** What one connection sends: one to four frames, each possibly mutated, glued together. */
export const hostileStream: fc.Arbitrary<Uint8Array> = fc
  .array(fc.tuple(rawRequest, mutation), { minLength: 1, maxLength: 4 })
  .map((frames) => {
    return concatBytes(...frames.map(([request, change]) => mutate(encodeRaw(request), change)));
  });
