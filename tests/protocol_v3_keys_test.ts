/**
 * The codec of key slots (ops 30 ListKeys, 31 AddKey, 32 RemoveKey; answer 236) and of the sealed
 * blob encoding (2), byte for byte against the vectors of docs/protocol.md, version 3.
 */
import assert from "node:assert/strict";
import { assertRequestVector, assertResponseVector } from "./_v3.ts";
import fc from "fast-check";
import {
  encodeRequestV3,
  encodeResponseV3,
  InFlightV3,
  KEY_SLOT_ID_BYTES,
  keySlotNotFoundId,
  MAX_BODY_SIZE_V3,
  MAX_DATA_BLOB_BYTES,
  MAX_KEY_SLOT_BYTES,
  MAX_KEY_SLOTS,
  MAX_RESPONSE_HEAD_SIZE_V3,
  MAX_SEAL_OVERHEAD,
  MAX_TREE_BYTES,
  parseRequestHeadV3,
  parseResponseHeadV3,
  RequestDecoderV3,
  type RequestV3,
  ResponseDecoderV3,
  type ResponseV3,
  TaggedProtocolError,
  TruncatedStreamError,
} from "../protocol/v3/mod.ts";
import * as store from "../storage/snapshots.ts";
import { concat, hex, toHex } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

// The vectors of docs/protocol.md, version 3, verbatim. User 77, tag 7.
const SHA_HI = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";
const HEAD = "4d000000 03";
const TAG = "07000000";
const tagged = { userId: 77, tag: 7 };
/** A slot of 17 bytes: version 01, id `55`×16. */
const S = `01 ${"55".repeat(16)}`;
/** A slot of 19 bytes: version 01, id `66`×16, then `abcd`. */
const S2 = `01 ${"66".repeat(16)} abcd`;
const SLOT_ID = "55".repeat(16);

const REQUESTS: Array<[string, RequestV3]> = [
  [`${HEAD} 1e ${TAG}`, { op: 30, ...tagged }],
  [`${HEAD} 1f ${TAG} 00 11000000 ${S}`, { op: 31, ...tagged, first: false, slot: hex(S) }],
  [`${HEAD} 1f ${TAG} 01 11000000 ${S}`, { op: 31, ...tagged, first: true, slot: hex(S) }],
  [`${HEAD} 20 ${TAG} ${SLOT_ID}`, { op: 32, ...tagged, slotId: hex(SLOT_ID) }],
  [
    `${HEAD} 0b ${TAG} ${SHA_HI} 00 02 04000000 04000000 00000000 5e5e5e5e`,
    {
      op: 11,
      ...tagged,
      id: hex(SHA_HI),
      kind: 0,
      encoding: 2,
      rawLength: 4,
      refs: [],
      bytes: hex("5e5e5e5e"),
    },
  ],
];
const RESPONSES: Array<[string, ResponseV3]> = [
  [`03 ec00 ${TAG} 00000000`, { status: 236, tag: 7, slots: [] }],
  [
    `03 ec00 ${TAG} 02000000 11000000 13000000 ${S} ${S2}`,
    { status: 236, tag: 7, slots: [hex(S), hex(S2)] },
  ],
  [
    `03 e903 ${TAG} ${SLOT_ID} ${"00".repeat(16)}`,
    { status: 1001, tag: 7, id: keySlotNotFoundId(hex(SLOT_ID)) },
  ],
  [
    `03 e800 ${TAG} 00 02 04000000 04000000 5e5e5e5e`,
    { status: 232, tag: 7, kind: 0, encoding: 2, rawLength: 4, bytes: hex("5e5e5e5e") },
  ],
];

const u32 = (n: number) => toHex(new Uint8Array(new Uint32Array([n]).buffer));

Deno.test("key slot and sealed request vectors encode byte for byte and decode back, whole or a byte at a time", () => {
  for (const [vector, request] of REQUESTS) assertRequestVector(hex(vector), request);
});

Deno.test("key slot and sealed answer vectors encode byte for byte and decode back, whole or a byte at a time", () => {
  for (const [vector, response] of RESPONSES) assertResponseVector(hex(vector), response);
  // A 236's head holds every length: the body it declares is the slots, nothing more.
  const head = parseResponseHeadV3(hex(RESPONSES[1][0]))!;
  assert.equal(head.byteLength, 7 + 4 + 2 * 4);
  assert.equal(head.bodyLength, 17 + 19);
});

Deno.test("round trips: 0..16 key slots of 17..4096 bytes each", () => {
  const slot = fc.integer({ min: 17, max: MAX_KEY_SLOT_BYTES }).chain((length) =>
    fc.uint8Array({ minLength: length, maxLength: length })
  );
  fc.assert(
    fc.property(fc.array(slot, { maxLength: MAX_KEY_SLOTS }), fc.nat(0xffff_ffff), (slots, tag) => {
      const sent: ResponseV3 = { status: 236, tag, slots };
      const frames = new ResponseDecoderV3({ authenticated: true }).push(encodeResponseV3(sent));
      assert.deepEqual(frames, [{ kind: "answer", response: sent }]);
      const slot = slots[0] ?? new Uint8Array(17);
      const add: RequestV3 = { op: 31, userId: 1, tag, first: tag % 2 === 0, slot };
      const [request] = new RequestDecoderV3({ authenticated: true }).push(encodeRequestV3(add));
      assert.deepEqual(request, { kind: "request", request: add });
    }),
    { seed: 20261207, numRuns: 100 },
  );
  // The largest 236 head fits any reader's head buffer.
  assert.ok(7 + 4 + 4 * MAX_KEY_SLOTS <= MAX_RESPONSE_HEAD_SIZE_V3);
});

Deno.test("a key slot request or a sealed blob that breaks a limit is refused from its head alone, with its tag", () => {
  const req = (op: string, fields = "") => hex(`${HEAD} ${op} 09000000 ${fields}`);
  const putHead = (kind: string, encoding: string, raw: number, stored: number, refs = 0) =>
    req("0b", `${SHA_HI} ${kind} ${encoding} ${u32(raw)} ${u32(stored)} ${u32(refs)}`);
  const refuse = (bytes: Uint8Array, pattern: RegExp) => {
    assert.throws(() => parseRequestHeadV3(bytes), (e: Error) => {
      assert.ok(e instanceof TaggedProtocolError, `${e}`);
      assert.equal(e.tag, 9);
      assert.match(e.message, pattern);
      return true;
    });
    // The stream decoder refuses the same bytes at once: no body is allocated for them.
    assert.throws(() => new RequestDecoderV3({ authenticated: true }).push(bytes), pattern);
  };
  refuse(req("1f", "00 10000000"), /key slot of 16 bytes, must be 17..4096/);
  refuse(req("1f", "01 00000000"), /key slot of 0 bytes/);
  refuse(req("1f", "00 01100000"), /key slot of 4097 bytes, must be 17..4096/);
  refuse(req("1f", "00 ffffffff"), /key slot of 4294967295 bytes/);
  refuse(req("1f", "02 11000000"), /AddKey flags 2: only bit 0 is defined/);
  refuse(req("1d"), /unknown version 3 op 29/);
  refuse(req("23"), /unknown version 3 op 35/);
  refuse(putHead("00", "03", 2, 2), /unknown blob encoding 3/);
  refuse(putHead("00", "02", 4, 5), /sealed data blob of 4 bytes sent as 5/);
  refuse(putHead("00", "02", 0, 0), /sealed data blob of 0 raw bytes/);
  const dataMax = MAX_DATA_BLOB_BYTES + MAX_SEAL_OVERHEAD;
  refuse(
    putHead("00", "02", dataMax + 1, dataMax + 1),
    new RegExp(`sealed data blob of ${dataMax + 1} raw bytes, must be 1..${dataMax}`),
  );
  const treeMax = MAX_TREE_BYTES + MAX_SEAL_OVERHEAD;
  refuse(putHead("01", "02", treeMax + 1, treeMax + 1), /sealed tree of 33554497 raw bytes/);
  // A plain blob keeps its limit: the seal's room is for sealed blobs only.
  refuse(putHead("00", "00", MAX_DATA_BLOB_BYTES + 1, MAX_DATA_BLOB_BYTES + 1), /8388609 raw/);
  // At the limits: taken, and the largest sealed tree still fits the largest body.
  assert.equal(parseRequestHeadV3(putHead("00", "02", dataMax, dataMax))!.bodyLength, dataMax);
  const tree = parseRequestHeadV3(putHead("01", "02", treeMax, treeMax, treeMax / 64 | 0))!;
  assert.ok(tree.bodyLength <= MAX_BODY_SIZE_V3, `${tree.bodyLength}`);
  // A RemoveKey cut inside its slot id, an AddKey inside its slot: truncated, not a hang.
  for (
    const vector of [`${HEAD} 20 ${TAG} ${SLOT_ID.slice(2)}`, `${HEAD} 1f ${TAG} 00 11000000 01`]
  ) {
    const decoder = new RequestDecoderV3({ authenticated: true });
    assert.deepEqual(decoder.push(hex(vector)), []);
    assert.throws(() => decoder.end(), TruncatedStreamError);
  }
});

Deno.test("a 236 that breaks a limit is refused as soon as its count or a length arrives", () => {
  const refuse = (vector: string, pattern: RegExp) => {
    const decoder = new ResponseDecoderV3({ authenticated: true });
    assert.throws(() => {
      for (const byte of hex(vector)) decoder.push(new Uint8Array([byte]));
    }, (e: Error) => e instanceof TaggedProtocolError && pattern.test(e.message));
  };
  refuse(`03 ec00 ${TAG} 11000000`, /17 key slots, at most 16/);
  refuse(`03 ec00 ${TAG} ffffffff`, /4294967295 key slots/);
  refuse(`03 ec00 ${TAG} 02000000 11000000 01100000`, /key slot of 4097 bytes/);
  refuse(`03 ec00 ${TAG} 01000000 10000000`, /key slot of 16 bytes/);
  refuse(`03 e800 ${TAG} 00 02 04000000 05000000`, /sealed data blob of 4 bytes sent as 5/);
  refuse(`03 e800 ${TAG} 00 03`, /unknown blob encoding 3/);
  // The largest 236 declares 16 slots of 4 KiB: 64 KiB of body, no more.
  const largest = `03 ec00 ${TAG} ${u32(16)} ${u32(MAX_KEY_SLOT_BYTES).repeat(16)}`;
  assert.equal(parseResponseHeadV3(hex(largest))!.bodyLength, 16 * MAX_KEY_SLOT_BYTES);
  const decoder = new ResponseDecoderV3({ authenticated: true });
  assert.deepEqual(decoder.push(concat(hex(largest), new Uint8Array(100))), []);
  assert.throws(() => decoder.end(), /inside a frame/);
});

Deno.test("encoders refuse key slots and sealed blobs no decoder would take", () => {
  assert.throws(
    () => encodeRequestV3({ op: 31, ...tagged, first: false, slot: new Uint8Array(16) }),
    /16 bytes/,
  );
  assert.throws(
    () => encodeRequestV3({ op: 31, ...tagged, first: false, slot: new Uint8Array(4097) }),
    /4097/,
  );
  assert.throws(
    () => encodeRequestV3({ op: 32, ...tagged, slotId: new Uint8Array(15) }),
    /key slot id of 15 bytes, not 16/,
  );
  const slots = Array.from({ length: 17 }, () => new Uint8Array(17));
  assert.throws(() => encodeResponseV3({ status: 236, tag: 1, slots }), /17 key slots/);
  assert.throws(
    () => encodeResponseV3({ status: 236, tag: 1, slots: [new Uint8Array(10)] }),
    /key slot of 10 bytes/,
  );
  const put = REQUESTS.find(([, request]) => request.op === 11)![1] as Extract<
    RequestV3,
    { op: 11 }
  >;
  assert.throws(() => encodeRequestV3({ ...put, rawLength: 5 }), /sealed data blob of 5 bytes/);
  assert.throws(() => keySlotNotFoundId(new Uint8Array(32)), /32 bytes, not 16/);
});

Deno.test("236 answers ListKeys only; RemoveKey is answered 231 or 1001, AddKey 231", () => {
  const inFlight = new InFlightV3();
  inFlight.sent({ tag: 1, op: 30 });
  inFlight.sent({ tag: 2, op: 31 });
  inFlight.sent({ tag: 3, op: 32 });
  inFlight.sent({ tag: 4, op: 32 });
  assert.throws(() => inFlight.answered({ tag: 1, status: 231 }), /231 does not answer op 30/);
  assert.equal(inFlight.answered({ tag: 1, status: 236 }), 30);
  assert.throws(() => inFlight.answered({ tag: 2, status: 236 }), /236 does not answer op 31/);
  assert.throws(() => inFlight.answered({ tag: 2, status: 1001 }), /1001 does not answer op 31/);
  assert.equal(inFlight.answered({ tag: 2, status: 231 }), 31);
  assert.equal(inFlight.answered({ tag: 3, status: 1001 }), 32);
  assert.equal(inFlight.answered({ tag: 4, status: 231 }), 32);
});

Deno.test("the stores take the codec's limits of key slots", () => {
  assert.equal(store.MAX_KEY_SLOTS, MAX_KEY_SLOTS);
  assert.equal(store.MAX_KEY_SLOT_BYTES, MAX_KEY_SLOT_BYTES);
  assert.equal(store.KEY_SLOT_ID_BYTES, KEY_SLOT_ID_BYTES);
  assert.equal(store.KEY_SLOT_ID_OFFSET + store.KEY_SLOT_ID_BYTES, 17);
});
