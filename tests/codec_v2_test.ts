import assert from "node:assert/strict";
import {
  authMessage,
  encodeEntry,
  encodeRequestV2,
  encodeResponseV2,
  END_OF_ENTRIES,
  formatSshPublicKey,
  parseEntry,
  parseRequestV2,
  parseResponseV2,
  parseSshPublicKey,
  type RequestV2,
  type ResponseV2,
  startsSessionV2,
  type VersionInfo,
} from "../protocol/v2/mod.ts";
import { InvalidNameError, ProtocolError } from "../protocol/errors.ts";
import { concat, hex, toHex, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

// The vectors of docs/protocol.md, version 2, verbatim.
const SHA_HI = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";
const INFO_HEX = "0500000000000000 0200000000000000 0068e5cf8b010000 a4010000 e86be5cf8b010000" +
  " 0000000000000000 00 " + SHA_HI;
const INFO: VersionInfo = {
  versionId: 5,
  size: 2,
  mtimeMs: 1_700_000_000_000,
  mode: 0o644,
  storedMs: 1_700_000_001_000,
  endedMs: null,
  deleted: false,
  sha256: hex(SHA_HI),
};
const REQUESTS: Array<[string, RequestV2]> = [
  ["4d000000 02 01", { op: 1, userId: 77 }],
  [
    "4d000000 02 02" + "11".repeat(32) + "22".repeat(64),
    {
      op: 2,
      userId: 77,
      publicKey: new Uint8Array(32).fill(0x11),
      signature: new Uint8Array(64).fill(0x22),
    },
  ],
  [
    "4d000000 02 64 0500 612e747874 0200000000000000 0068e5cf8b010000 a4010000",
    { op: 100, userId: 77, name: "a.txt", size: 2, mtimeMs: 1_700_000_000_000, mode: 0o644 },
  ],
  [
    "4d000000 02 c8 0500 612e747874 0000000000000000",
    { op: 200, userId: 77, name: "a.txt", versionId: 0 },
  ],
  ["4d000000 02 c9 0500 612e747874", { op: 201, userId: 77, name: "a.txt" }],
  [
    "4d000000 02 ca 0500 646f63732f 0000000000000000",
    { op: 202, userId: 77, prefix: "docs/", atMs: 0 },
  ],
  ["4d000000 02 cb 0500 612e747874", { op: 203, userId: 77, name: "a.txt" }],
];
const RESPONSES: Array<[string, ResponseV2]> = [
  ["02 dc00" + "33".repeat(32), { status: 220, nonce: new Uint8Array(32).fill(0x33) }],
  ["02 dd00 00", { status: 221, appendOnly: false }],
  ["02 d200 0500 612e747874 " + INFO_HEX, { status: 210, name: "a.txt", info: INFO }],
  ["02 d300", { status: 211 }],
  ["02 d400 0500 612e747874", { status: 212, name: "a.txt" }],
  ["02 e903 0500 612e747874", { status: 1001, name: "a.txt" }],
  ["02 eb03 0500 0a00 6f7665722071756f7461", { status: 1003, code: 5, message: "over quota" }],
];

Deno.test("version 2 request vectors encode byte for byte and parse back, whole or a byte at a time", () => {
  for (const [vector, request] of REQUESTS) {
    assert.equal(toHex(encodeRequestV2(request)), toHex(hex(vector)), `op ${request.op}`);
    const bytes = hex(vector);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.equal(
        parseRequestV2(bytes.subarray(0, cut)),
        undefined,
        `op ${request.op} cut at ${cut}`,
      );
    }
    assert.deepEqual(parseRequestV2(bytes), { ...request, byteLength: bytes.length });
  }
});

Deno.test("version 2 response vectors encode byte for byte and parse back, whole or a byte at a time", () => {
  for (const [vector, response] of RESPONSES) {
    const bytes = hex(vector);
    assert.equal(toHex(encodeResponseV2(response)), toHex(bytes), `status ${response.status}`);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.equal(parseResponseV2(bytes.subarray(0, cut)), undefined);
    }
    assert.deepEqual(parseResponseV2(bytes), { ...response, byteLength: bytes.length });
  }
});

Deno.test("entries: name, version information, and a zero name length at the end", () => {
  const entry = encodeEntry({ name: utf8("a.txt"), info: INFO });
  assert.equal(toHex(entry), toHex(hex("0500 612e747874" + INFO_HEX)));
  const stream = concat(entry, END_OF_ENTRIES);
  const first = parseEntry(stream)!;
  assert.deepEqual(first.entry, { name: utf8("a.txt"), info: INFO });
  assert.deepEqual(parseEntry(stream.subarray(first.byteLength)), { entry: null, byteLength: 2 });
  assert.equal(parseEntry(entry.subarray(0, entry.length - 1)), undefined);
  const past = { ...INFO, endedMs: 1_700_000_002_000, deleted: true };
  assert.deepEqual(parseEntry(encodeEntry({ name: utf8("b"), info: past }))?.entry?.info, past);
});

Deno.test("the handshake vector: a fixed key's signature over the nonce verifies", async () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const pkcs8 = concat(hex("302e020100300506032b657004220420"), seed);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const publicKey = hex("79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664");
  const message = authMessage(new Uint8Array(32).fill(0x33), 77, publicKey);
  assert.equal(
    toHex(message),
    toHex(concat(utf8("backup-protocol-v2 auth\0"), hex("33".repeat(32) + "4d000000"), publicKey)),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, new Uint8Array(message)),
  );
  assert.equal(
    toHex(signature),
    "9346572562df4765b9f15a0adbd45d0badb6ed38e49604916c1215a583d6d504" +
      "92c27630b06e4ffb42ef7918b80d7aef94cfbf9672087047ff4211497e65cf08",
  );
  const line =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk test";
  assert.equal(formatSshPublicKey(publicKey, "test"), line);
  assert.deepEqual(parseSshPublicKey(line), { key: publicKey, comment: "test" });
});

Deno.test("only a version 2 Hello opens a version 2 session; v1 frames stay version 1", () => {
  assert.equal(startsSessionV2(hex("4d000000 02 01")), true);
  assert.equal(startsSessionV2(hex("4d000000 02 ca")), false, "a v1 list with version byte 2");
  assert.equal(startsSessionV2(hex("4d000000 01 01")), false);
  assert.equal(startsSessionV2(hex("4d000000 02")), false, "too short to tell");
});

Deno.test("bad version 2 fields are refused as soon as they arrive", () => {
  const refuse = (vector: string, error: typeof ProtocolError, pattern: RegExp) =>
    assert.throws(
      () => parseRequestV2(hex(vector)),
      (e: Error) => e instanceof error && pattern.test(e.message),
    );
  refuse("4d000000 01 01", ProtocolError, /version 1 request in a version 2 session/);
  refuse("4d000000 02 07", ProtocolError, /unknown version 2 op 7/);
  refuse("4d000000 02 c9 0000", InvalidNameError, /empty/);
  refuse("4d000000 02 c9 0104", ProtocolError, /name length 1025/);
  refuse("4d000000 02 c9 0200 2e2e", InvalidNameError, /\.\./);
  // A size past 2^53, a mode past 7777, a time past a Date's range.
  refuse(
    "4d000000 02 64 0100 61 ffffffffffffffff 0000000000000000 ffffffff",
    ProtocolError,
    /size/,
  );
  refuse(
    "4d000000 02 64 0100 61 0100000000000000 0000000000000000 00100000",
    ProtocolError,
    /mode/,
  );
  refuse(
    "4d000000 02 64 0100 61 0100000000000000 ffffffffffffff7f ffffffff",
    ProtocolError,
    /mtime/,
  );
  refuse("4d000000 02 ca 0100 0a 0000000000000000", ProtocolError, /control byte/);
  assert.throws(() => parseResponseV2(hex("02 9900")), /unknown version 2 status 153/);
  assert.throws(() => parseSshPublicKey("ssh-rsa AAAAB3NzaC1yc2E= x"), /only ssh-ed25519/);
  assert.throws(() => parseSshPublicKey("ssh-ed25519 AAAA"), /not an ssh-ed25519 public key/);
});

Deno.test("a version 1 refusal reads as a refusal without a code", () => {
  assert.deepEqual(parseResponseV2(hex("01 eb03")), {
    status: 1003,
    code: 0,
    message: "",
    byteLength: 3,
  });
});
