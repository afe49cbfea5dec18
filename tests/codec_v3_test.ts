import assert from "node:assert/strict";
import { assertRequestVector, assertResponseVector, feedBothWays } from "./_v3.ts";
import fc from "fast-check";
import {
  authMessageV3,
  decodeResponseBodyV3,
  encodeHandshakeRequestV3,
  encodeHandshakeResponseV3,
  encodeRequestV3,
  encodeRequestV3Parts,
  encodeResponseV3,
  encodeSnapshotEntryParts,
  END_OF_SNAPSHOTS,
  type HandshakeRequestV3,
  type HandshakeResponseV3,
  InFlightV3,
  MAX_BODY_SIZE_V3,
  MAX_DATA_BLOB_BYTES,
  MAX_REQUEST_HEAD_SIZE_V3,
  MAX_RESPONSE_HEAD_SIZE_V3,
  parseHandshakeRequestV3,
  parseHandshakeResponseV3,
  parseRequestHeadV3,
  parseResponseHeadV3,
  RequestDecoderV3,
  type RequestV3,
  ResponseDecoderV3,
  type ResponseFrameV3,
  type ResponseV3,
  type SnapshotEntry,
  startsSessionV3,
  TaggedProtocolError,
  TruncatedStreamError,
} from "../protocol/v3/mod.ts";
import { MAX_CHUNK_SIZE } from "../chunking/fastcdc.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { concat, hex, toHex, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

// The vectors of docs/protocol.md, version 3, verbatim. User 77, tag 7.
const SHA_HI = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";
/** A stand-in tree: the 64 hex digits of sha(hi), the least raw length that may carry one ref. */
const T = utf8(SHA_HI);
const SHA_T = "c39bf02e4a0dc4ffe21c710449fbf24cec0af931ecbd23c6f0cb0f6dcb536601";
/** A stand-in record, `{}`, and its id. */
const SHA_R = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const AA = "aa".repeat(32);
const HEAD = "4d000000 03";
const TAG = "07000000";
const tagged = { userId: 77, tag: 7 };

const REQUESTS: Array<[string, RequestV3]> = [
  [`${HEAD} 0a ${TAG} 02000000 ${SHA_HI} ${AA}`, {
    op: 10,
    ...tagged,
    ids: [hex(SHA_HI), hex(AA)],
  }],
  [
    `${HEAD} 0b ${TAG} ${SHA_HI} 00 00 02000000 02000000 00000000 6869`,
    {
      op: 11,
      ...tagged,
      id: hex(SHA_HI),
      kind: 0,
      encoding: 0,
      rawLength: 2,
      refs: [],
      bytes: utf8("hi"),
    },
  ],
  [
    `${HEAD} 0b ${TAG} ${SHA_T} 01 00 40000000 40000000 01000000 ${SHA_HI} ${toHex(T)}`,
    {
      op: 11,
      ...tagged,
      id: hex(SHA_T),
      kind: 1,
      encoding: 0,
      rawLength: 64,
      refs: [hex(SHA_HI)],
      bytes: T,
    },
  ],
  [`${HEAD} 0c ${TAG} ${SHA_HI}`, { op: 12, ...tagged, id: hex(SHA_HI) }],
  [`${HEAD} 14 ${TAG}`, { op: 20, ...tagged }],
  [
    `${HEAD} 15 ${TAG} ${SHA_R} ${SHA_T} 02000000 7b7d`,
    { op: 21, ...tagged, id: hex(SHA_R), tree: hex(SHA_T), record: utf8("{}") },
  ],
  [`${HEAD} 16 ${TAG}`, { op: 22, ...tagged }],
  [`${HEAD} 17 ${TAG} ${SHA_R}`, { op: 23, ...tagged, id: hex(SHA_R) }],
  [`${HEAD} 21 ${TAG}`, { op: 33, ...tagged }],
  [`${HEAD} 22 ${TAG} 01000000 ${SHA_HI}`, { op: 34, ...tagged, ids: [hex(SHA_HI)] }],
];
const RESPONSES: Array<[string, ResponseV3]> = [
  [`03 e600 ${TAG} 02000000 02`, { status: 230, tag: 7, missing: [false, true] }],
  [`03 e700 ${TAG}`, { status: 231, tag: 7 }],
  [
    `03 e800 ${TAG} 00 00 02000000 02000000 6869`,
    { status: 232, tag: 7, kind: 0, encoding: 0, rawLength: 2, bytes: utf8("hi") },
  ],
  [`03 e900 ${TAG}`, { status: 233, tag: 7 }],
  [`03 ea00 ${TAG} 01000000 ${SHA_HI}`, { status: 234, tag: 7, ids: [hex(SHA_HI)] }],
  [`03 eb00 ${TAG}`, { status: 235, tag: 7 }],
  [
    `03 ed00 ${TAG} 0000100000000000 03000000`,
    { status: 237, tag: 7, bytesFreed: 1_048_576, packsRemoved: 3 },
  ],
  [`03 e903 ${TAG} ${SHA_R}`, { status: 1001, tag: 7, id: hex(SHA_R) }],
  [
    `03 eb03 ${TAG} 0500 0a00 6f7665722071756f7461`,
    { status: 1003, tag: 7, code: 5, message: "over quota" },
  ],
];
const ENTRY: SnapshotEntry = { id: hex(SHA_R), storedMs: 1_700_000_001_000, record: utf8("{}") };
const ENTRY_HEX = `${SHA_R} e86be5cf8b010000 02000000 7b7d`;
const HANDSHAKE_REQUESTS: Array<[string, HandshakeRequestV3]> = [
  [`${HEAD} 01`, { op: 1, userId: 77 }],
  [
    `${HEAD} 02 ${"11".repeat(32)} ${"22".repeat(64)}`,
    { op: 2, userId: 77, publicKey: hex("11".repeat(32)), signature: hex("22".repeat(64)) },
  ],
];
const NO_SNAPSHOTS = "this store keeps no snapshots";
const HANDSHAKE_RESPONSES: Array<[string, HandshakeResponseV3]> = [
  [`03 dc00 ${"33".repeat(32)}`, { status: 220, nonce: hex("33".repeat(32)) }],
  ["03 dd00 01", { status: 221, appendOnly: true }],
  [`03 eb03 0100 1d00 ${toHex(utf8(NO_SNAPSHOTS))}`, {
    status: 1003,
    code: 1,
    message: NO_SNAPSHOTS,
  }],
];

Deno.test("version 3 request vectors encode byte for byte and decode back: head, then body; whole or a byte at a time", () => {
  for (const [vector, request] of REQUESTS) assertRequestVector(hex(vector), request);

  // A blob's bytes and a record are sent as given, not copied into the head.
  const [, put] = REQUESTS[1];
  assert.equal(encodeRequestV3Parts(put)[1], (put as { bytes: Uint8Array }).bytes);
});

Deno.test("version 3 response vectors encode byte for byte and decode back, whole or a byte at a time", () => {
  for (const [vector, response] of RESPONSES) {
    // A 235's entries follow it: fed whole in the next test.
    assertResponseVector(hex(vector), response, response.status !== 235);
  }
});

Deno.test("a 235 is followed by its entries, oldest first, and a 32-byte zero end mark", () => {
  assert.equal(toHex(concat(...encodeSnapshotEntryParts(ENTRY))), toHex(hex(ENTRY_HEX)));
  const later = { ...ENTRY, id: hex(AA), storedMs: ENTRY.storedMs + 1 };
  const stream = concat(
    hex(`03 eb00 ${TAG}`),
    ...encodeSnapshotEntryParts(ENTRY),
    ...encodeSnapshotEntryParts(later),
    END_OF_SNAPSHOTS,
    hex(`03 e700 08000000`),
  );
  const expected: ResponseFrameV3[] = [
    { kind: "answer", response: { status: 235, tag: 7 } },
    { kind: "snapshot", tag: 7, entry: ENTRY },
    { kind: "snapshot", tag: 7, entry: later },
    { kind: "end-of-snapshots", tag: 7 },
    { kind: "answer", response: { status: 231, tag: 8 } },
  ];
  feedBothWays(() => new ResponseDecoderV3({ authenticated: true }), stream, expected);
});

Deno.test("the version 3 handshake is version 2's with version byte 3, and its signature covers the v3 context", async () => {
  for (const [vector, request] of HANDSHAKE_REQUESTS) {
    assert.equal(toHex(encodeHandshakeRequestV3(request)), toHex(hex(vector)));
    assert.deepEqual(parseHandshakeRequestV3(hex(vector)), {
      ...request,
      byteLength: hex(vector).length,
    });
  }
  for (const [vector, response] of HANDSHAKE_RESPONSES) {
    assert.equal(toHex(encodeHandshakeResponseV3(response)), toHex(hex(vector)));
    assert.deepEqual(parseHandshakeResponseV3(hex(vector)), {
      ...response,
      byteLength: hex(vector).length,
    });
  }
  // Hello, Auth, then tagged requests on one stream; 220, 221, then tagged answers on the other.
  const requests = concat(...HANDSHAKE_REQUESTS.map(([v]) => hex(v)), hex(`${HEAD} 16 ${TAG}`));
  feedBothWays(() => new RequestDecoderV3(), requests, [
    ...HANDSHAKE_REQUESTS.map(([, request]) => ({ kind: "handshake" as const, request })),
    { kind: "request", request: { op: 22, ...tagged } },
  ]);
  const answers = concat(
    hex(HANDSHAKE_RESPONSES[0][0]),
    hex(HANDSHAKE_RESPONSES[1][0]),
    hex(`03 e700 ${TAG}`),
  );
  feedBothWays(() => new ResponseDecoderV3(), answers, [
    { kind: "handshake", response: HANDSHAKE_RESPONSES[0][1] },
    { kind: "handshake", response: HANDSHAKE_RESPONSES[1][1] },
    { kind: "answer", response: { status: 231, tag: 7 } },
  ]);
  // A server that does not speak version 3 answers version 1's general error: a refusal, code 0.
  assert.deepEqual(parseHandshakeResponseV3(hex("01 eb03")), {
    status: 1003,
    code: 0,
    message: "",
    byteLength: 3,
  });

  const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const pkcs8 = concat(hex("302e020100300506032b657004220420"), seed);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const publicKey = hex("79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664");
  const message = authMessageV3(hex("33".repeat(32)), 77, publicKey);
  assert.equal(
    toHex(message),
    toHex(concat(utf8("backup-protocol-v3 auth\0"), hex("33".repeat(32) + "4d000000"), publicKey)),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, new Uint8Array(message)),
  );
  assert.equal(
    toHex(signature),
    "02628f21f9e1b990c568172029016850387349dd09aaacd9bdbaf37879f78149" +
      "a4469bfa5fc84dbd6aaa551bd779fb0248dd1f1985c3a97020b5d3ed2d4f7c09",
  );
});

Deno.test("only a version 3 Hello opens a version 3 session", () => {
  assert.equal(startsSessionV3(hex(`${HEAD} 01`)), true);
  assert.equal(startsSessionV3(hex("4d000000 02 01")), false, "a version 2 Hello");
  assert.equal(startsSessionV3(hex(`${HEAD} ca`)), false, "a v1 list with version byte 3");
  assert.equal(startsSessionV3(hex("4d000000 03")), false, "too short to tell");
});

Deno.test("round trips: blobs of every kind and encoding, ids and bitmaps of every count up to 8192", () => {
  const idOf = (n: number) => new Uint8Array(32).fill(n % 255 + 1);
  const request = fc.oneof(
    fc.record({
      op: fc.constant(10 as const),
      ids: fc.integer({ min: 1, max: 8192 }).map((n) =>
        Array.from({ length: n }, (_, i) => idOf(i))
      ),
    }),
    fc.integer({ min: 1, max: 4096 }).chain((rawLength) =>
      fc.record({
        op: fc.constant(11 as const),
        id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        kind: fc.constantFrom(0 as const, 1 as const),
        encoding: fc.constantFrom(0 as const, 1 as const),
        rawLength: fc.constant(rawLength),
        storedLength: fc.integer({ min: 1, max: rawLength + 100 }),
        refCount: fc.integer({ min: 0, max: Math.floor(rawLength / 64) }),
      }).map(({ storedLength, refCount, ...r }) => ({
        ...r,
        refs: r.kind === 1 ? Array.from({ length: refCount }, (_, i) => idOf(i)) : [],
        bytes: new Uint8Array(r.encoding === 0 ? rawLength : storedLength).fill(7),
      }))
    ),
  );
  fc.assert(
    fc.property(request, fc.nat(0xffff_ffff), (fields, tag) => {
      const sent = { ...fields, userId: 1, tag } as RequestV3;
      const [frame] = new RequestDecoderV3({ authenticated: true }).push(encodeRequestV3(sent));
      assert.deepEqual(frame, { kind: "request", request: sent });
    }),
    { seed: 20261206, numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 8192 }), (missing) => {
      const frame = encodeResponseV3({ status: 230, tag: 1, missing });
      assert.equal(frame.length, 11 + Math.ceil(missing.length / 8));
      const head = parseResponseHeadV3(frame)!;
      assert.deepEqual(decodeResponseBodyV3(head, frame.subarray(head.byteLength)), {
        status: 230,
        tag: 1,
        missing,
      });
    }),
    { seed: 20261206, numRuns: 200 },
  );
});

/** The head of a tagged request with `fields` after it (hex), tag 9. */
const req = (op: string, fields = "") => hex(`${HEAD} ${op} 09000000 ${fields}`);
const putHead = (kind: string, encoding: string, raw: number, stored: number, refs: number) => {
  const u32 = (n: number) => toHex(new Uint8Array(new Uint32Array([n]).buffer));
  return req("0b", `${SHA_HI} ${kind} ${encoding} ${u32(raw)} ${u32(stored)} ${u32(refs)}`);
};

Deno.test("a request that breaks a limit is refused from its head alone, before any body is read, with its tag", () => {
  const refuse = (bytes: Uint8Array, pattern: RegExp) => {
    assert.throws(() => parseRequestHeadV3(bytes), (e: Error) => {
      assert.ok(e instanceof TaggedProtocolError, `${e}`);
      assert.equal(e.tag, 9);
      assert.match(e.message, pattern);
      return true;
    });
    // The stream decoder refuses the same bytes, and refuses anything after.
    const decoder = new RequestDecoderV3({ authenticated: true });
    assert.throws(() => decoder.push(bytes), pattern);
    assert.throws(() => decoder.push(req("16")), pattern);
  };
  refuse(hex("4d000000 02 16 09000000"), /version 2 request in a version 3 session/);
  refuse(req("01"), /unknown version 3 op 1/);
  refuse(req("64"), /unknown version 3 op 100/);
  refuse(req("0a", "00000000"), /0 ids in one frame, must be 1..8192/);
  refuse(req("0a", "01200000"), /8193 ids/);
  refuse(req("22", "00000000"), /0 ids in one frame, must be 1..8192/);
  refuse(req("22", "01200000"), /8193 ids/);
  refuse(req("23"), /unknown version 3 op 35/);
  refuse(putHead("02", "00", 2, 2, 0), /unknown blob kind 2/);
  refuse(putHead("00", "03", 2, 2, 0), /unknown blob encoding 3/);
  refuse(putHead("00", "00", 0, 0, 0), /data blob of 0 raw bytes/);
  refuse(
    putHead("00", "01", MAX_DATA_BLOB_BYTES + 1, 10, 0),
    /data blob of 8388609 raw bytes, must be 1..8388608/,
  );
  refuse(putHead("01", "01", 32 * 2 ** 20 + 1, 10, 0), /tree of 33554433 raw bytes/);
  refuse(putHead("00", "00", 2, 3, 0), /raw data blob of 2 bytes sent as 3/);
  refuse(putHead("00", "01", 100, 100 + 65537, 0), /stored as 65637, must be 1..65636/);
  refuse(putHead("00", "01", 100, 0, 0), /stored as 0/);
  refuse(putHead("00", "00", 100, 100, 1), /1 refs on a data blob/);
  refuse(putHead("01", "00", 127, 127, 2), /2 refs for a tree of 127 bytes/);
  refuse(putHead("01", "00", 2 ** 20, 2 ** 20, 0xffff_ffff), /4294967295 refs/);
  refuse(req("15", `${SHA_R} ${SHA_T} 00000000`), /snapshot record of 0 bytes/);
  refuse(
    req("15", `${SHA_R} ${SHA_T} 01000100`),
    /snapshot record of 65537 bytes, must be 1..65536/,
  );
  // The largest head declares no more than the largest body.
  const largest = parseRequestHeadV3(
    putHead("01", "01", 32 * 2 ** 20, 32 * 2 ** 20 + 65536, 2 ** 19),
  )!;
  assert.equal(largest.bodyLength, MAX_BODY_SIZE_V3);
});

Deno.test("an answer that breaks the protocol is refused as soon as it arrives", () => {
  const refuse = (
    vector: string,
    pattern: RegExp,
    error: abstract new (...args: never[]) => Error = ProtocolError,
  ) => {
    const decoder = new ResponseDecoderV3({ authenticated: true });
    assert.throws(() => {
      for (const byte of hex(vector)) decoder.push(new Uint8Array([byte]));
    }, (e: Error) => e instanceof error && pattern.test(e.message));
  };
  refuse(
    `02 e700 ${TAG}`,
    /version 2 answer \(status 231\) in a version 3 session/,
    TaggedProtocolError,
  );
  refuse(`01 eb03 ${TAG}`, /version 1 answer/);
  refuse(`03 dc00 ${TAG}`, /unknown version 3 status 220/);
  refuse(`03 e600 ${TAG} 00000000`, /0 ids in one frame/);
  refuse(`03 e600 ${TAG} 01200000`, /8193 ids/);
  refuse(`03 e600 ${TAG} 03000000 08`, /bitmap has bits past its 3 ids/);
  refuse(`03 ea00 ${TAG} 00000000`, /0 missing ids/);
  refuse(`03 e800 ${TAG} 03`, /unknown blob kind 3/);
  refuse(`03 e800 ${TAG} 00 00 01008000 01008000`, /data blob of 8388609 raw bytes/);
  refuse(`03 eb03 ${TAG} 0100 0104`, /message length 1025, at most 1024/);
  refuse(`03 ed00 ${TAG} 0000000000002000 00000000`, /bytes freed 9007199254740992 too large/);
  // Entries of a 235: a record length out of range, an entry out of order or listed twice.
  refuse(`03 eb00 ${TAG} ${SHA_R} e86be5cf8b010000 00000000`, /snapshot record of 0 bytes/);
  refuse(`03 eb00 ${TAG} ${SHA_R} e86be5cf8b010000 01000100`, /snapshot record of 65537 bytes/);
  refuse(`03 eb00 ${TAG} ${ENTRY_HEX} ${ENTRY_HEX}`, /out of order \(or twice\)/);
  refuse(`03 eb00 ${TAG} ${ENTRY_HEX} ${SHA_HI} e76be5cf8b010000 02000000 7b7d`, /out of order/);
  refuse(`03 eb00 ${TAG} ${ENTRY_HEX} ${SHA_HI} ffffffffffffff7f`, /stored time .* out of range/);
  // The handshake: answers out of place.
  assert.throws(
    () => new ResponseDecoderV3().push(hex(`03 e700 ${TAG}`)),
    /status 231 in a version 3 handshake/,
  );
  assert.throws(
    () => new RequestDecoderV3().push(hex(HANDSHAKE_REQUESTS[1][0])),
    /op 2 where the handshake expects op 1/,
  );
  assert.throws(
    () => new RequestDecoderV3().push(hex("4d000000 02 01")),
    /version 2 request in a version 3 handshake/,
  );
});

Deno.test("a stream that ends inside a frame, or inside a list of snapshots, is refused as truncated", () => {
  const cut = (
    make: () => { push(b: Uint8Array): unknown; end(): void },
    vector: string,
    pattern: RegExp,
  ) => {
    const decoder = make();
    decoder.push(hex(vector));
    assert.throws(
      () => decoder.end(),
      (e: Error) => e instanceof TruncatedStreamError && pattern.test(e.message),
    );
  };
  const answers = () => new ResponseDecoderV3({ authenticated: true });
  cut(answers, `03 e800 ${TAG} 00 00 02000000 02000000 68`, /inside a frame/);
  cut(answers, `03 e7`, /inside a frame/);
  cut(answers, `03 eb00 ${TAG}`, /the list of snapshots did not end/);
  cut(answers, `03 eb00 ${TAG} ${ENTRY_HEX}`, /the list of snapshots did not end/);
  cut(answers, `03 eb00 ${TAG} ${"00".repeat(31)}`, /inside a frame/);
  cut(
    () => new RequestDecoderV3({ authenticated: true }),
    `${HEAD} 0a ${TAG} 01000000 ${SHA_HI.slice(2)}`,
    /inside a frame/,
  );
});

Deno.test("encoders refuse what no decoder would take", () => {
  const put = REQUESTS[1][1] as Extract<RequestV3, { op: 11 }>;
  assert.throws(() => encodeRequestV3({ ...put, refs: [hex(AA)] }), /refs on a data blob/);
  assert.throws(
    () => encodeRequestV3({ ...put, kind: 1, refs: [hex(AA)] }),
    /1 refs for a tree of 2 bytes/,
  );
  assert.throws(
    () => encodeRequestV3({ ...put, rawLength: 3 }),
    /raw data blob of 3 bytes sent as 2/,
  );
  assert.throws(() => encodeRequestV3({ ...put, id: new Uint8Array(31) }), /blob id of 31 bytes/);
  assert.throws(() => encodeRequestV3({ op: 10, ...tagged, ids: [] }), /0 ids/);
  assert.throws(
    () =>
      encodeRequestV3({
        op: 21,
        ...tagged,
        id: hex(SHA_R),
        tree: hex(SHA_T),
        record: new Uint8Array(65537),
      }),
    /record of 65537/,
  );
  assert.throws(
    () => encodeResponseV3({ status: 230, tag: 1, missing: new Array(8193).fill(true) }),
    /8193 ids/,
  );
  assert.throws(() => encodeSnapshotEntryParts({ ...ENTRY, id: new Uint8Array(32) }), /end mark/);
  assert.throws(() => encodeRequestV3({ op: 22, userId: 1, tag: 2 ** 32 }), /tag/);
});

Deno.test("answers come in request order: each must carry the oldest outstanding tag and a status that answers its op", () => {
  const inFlight = new InFlightV3();
  inFlight.sent({ tag: 1, op: 10 });
  inFlight.sent({ tag: 2, op: 21 });
  inFlight.sent({ tag: 3, op: 12 });
  assert.throws(() => inFlight.answered({ tag: 2, status: 233 }), /tagged 2 where 1 was due/);
  assert.equal(inFlight.answered({ tag: 1, status: 230 }), 10);
  assert.throws(
    () => inFlight.answered({ tag: 2, status: 231 }),
    /status 231 does not answer op 21/,
  );
  assert.equal(inFlight.answered({ tag: 2, status: 234 }), 21);
  assert.equal(inFlight.answered({ tag: 3, status: 1003 }), 12, "a refusal answers any op");
  assert.throws(
    () => inFlight.answered({ tag: 4, status: 231 }),
    /an answer \(tag 4\) to no request/,
  );
  for (let i = 0; i < 5000; i++) {
    inFlight.sent({ tag: i, op: 12 });
    if (i % 2) assert.equal(inFlight.answered({ tag: (i - 1) / 2, status: 1001 }), 12);
  }
  assert.equal(inFlight.size, 2500);
});

Deno.test("limits: a data blob is the chunker's largest chunk; every head fits the server's 16 KiB read buffer", () => {
  assert.equal(MAX_DATA_BLOB_BYTES, MAX_CHUNK_SIZE);
  assert.equal(MAX_REQUEST_HEAD_SIZE_V3, 102);
  assert.equal(MAX_RESPONSE_HEAD_SIZE_V3, 1035);
  assert.ok(MAX_RESPONSE_HEAD_SIZE_V3 <= 16 * 1024);
  assert.equal(MAX_BODY_SIZE_V3, 48 * 2 ** 20 + 65536);
});
