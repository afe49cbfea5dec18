/**
 * The formats of docs/keys_plan.md against vectors made by Python's `cryptography`
 * (`python3 tools/keys_vectors.py`, cryptography 48.0.0), and what each seal refuses.
 */
import assert from "node:assert/strict";
import { toHex } from "../common/hex.ts";
import { keyedId, openBlob, sealBlob } from "../client/repository_keys/blob_seal.ts";
import {
  makeSlot,
  MAX_SCRYPT_MEMORY,
  newMasterKey,
  openSlot,
  readSlotInfo,
} from "../client/repository_keys/key_slot.ts";
import {
  KeySlotFormatError,
  SealBrokenError,
  WrongKeyError,
} from "../client/repository_keys/errors.ts";

const VECTORS = {
  chunkId: "1025e55d89db45da970fbfe5a23ca7a4e9428f64022d4c4301fd76ceb8b28d72",
  sealedChunk:
    "01333333333333333333333333333333336599dbd8f8b9053405adc7dd57252e0ec5e9379f8c1db66106d584fdb3",
  treeId: "7950a201712a6ee32190aee75445c734a501d7eb4b4c52b371f0e7dfbcd65968",
  sealedTreeZstdFlag:
    "0144444444444444444444444444444444f6141c4b65e86e65dc35bda1b6342444c7c85bf8fd0ff310fb8af2d52c",
  sealedRecord:
    "015555555555555555555555555555555552f20c00104afc2f3935b04202c613f0583a7c79f5677a620ff845",
  passphraseSlot: "0166666666666666666666666666666666010a0801" + "77".repeat(32) +
    "0000018bcfe56800066c6170746f7003616e61" + "88".repeat(12) +
    "fc72fb52b2f6c9efb666c07c082c272ad3412d03f1d44110ceb271b895424d8b2701a18d3b4baa20d2603f07ff33fb" +
    "3d1ec9346029fcf2f11c2396defcf40e82923dbf0a30bed8102fa79d508821790c51",
  keyFileSlot: "01" + "aa".repeat(16) + "02000000" + "bb".repeat(32) + "0000018bcfe568010000" +
    "cc".repeat(12) +
    "d2eb0823d3c50adfa078e20aba163462fde964f629767b3e43793fcd43582c052ff49ed8a2a3dd40ca784f95ace6bf" +
    "0e8624b6628231aa50217abe2ab28c19768ca65c42cf0e56f2a2e93adf8e7dc94477",
};
const KEY = { encryption: new Uint8Array(32).fill(1), id: new Uint8Array(32).fill(2) };
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("keyed ids and seals of a chunk, a tree and a record match Python's cryptography", () => {
  const chunk = text("hello, chunk");
  const chunkId = keyedId(KEY, chunk);
  assert.equal(toHex(chunkId), VECTORS.chunkId);
  const salt = (b: number) => new Uint8Array(16).fill(b);
  const sealed = sealBlob(KEY, {
    kind: "data",
    id: chunkId,
    encoding: "raw",
    bytes: chunk,
    salt: salt(0x33),
  });
  assert.equal(toHex(sealed), VECTORS.sealedChunk);
  assert.deepEqual(openBlob(KEY, { kind: "data", id: chunkId, sealed }), {
    encoding: "raw",
    bytes: chunk,
  });
  const tree = text('{"nodes":[]}');
  const treeId = keyedId(KEY, tree);
  assert.equal(toHex(treeId), VECTORS.treeId);
  const tree1 = { kind: "tree" as const, id: treeId, encoding: "zstd" as const, bytes: tree };
  assert.equal(toHex(sealBlob(KEY, { ...tree1, salt: salt(0x44) })), VECTORS.sealedTreeZstdFlag);
  const record = { kind: "record" as const, id: new Uint8Array(32), encoding: "raw" as const };
  const sealedRecord = sealBlob(KEY, { ...record, bytes: text('{"time":1}'), salt: salt(0x55) });
  assert.equal(toHex(sealedRecord), VECTORS.sealedRecord);
  // A record's id is not in its seal: any id opens it.
  const opened = openBlob(KEY, {
    kind: "record",
    id: new Uint8Array(32).fill(9),
    sealed: sealedRecord,
  });
  assert.deepEqual(opened.bytes, text('{"time":1}'));
});

Deno.test("a seal refuses another kind, another id, another key, a flipped byte and a cut", () => {
  const bytes = text("some bytes");
  const id = keyedId(KEY, bytes);
  const sealed = sealBlob(KEY, { kind: "data", id, encoding: "raw", bytes });
  const other = keyedId(KEY, text("other"));
  const cases: [string, () => unknown][] = [
    ["kind", () => openBlob(KEY, { kind: "tree", id, sealed })],
    ["id", () => openBlob(KEY, { kind: "data", id: other, sealed })],
    ["key", () => openBlob(newMasterKey(), { kind: "data", id, sealed })],
    ["flip", () => {
      const flipped = sealed.slice();
      flipped[20] ^= 1;
      return openBlob(KEY, { kind: "data", id, sealed: flipped });
    }],
    ["cut", () => openBlob(KEY, { kind: "data", id, sealed: sealed.subarray(0, 30) })],
    ["version", () => {
      const changed = sealed.slice();
      changed[0] = 2;
      return openBlob(KEY, { kind: "data", id, sealed: changed });
    }],
  ];
  for (const [what, open] of cases) assert.throws(open, SealBrokenError, what);
  // Two seals of the same bytes differ (a fresh salt each) and both open.
  const again = sealBlob(KEY, { kind: "data", id, encoding: "raw", bytes });
  assert.notDeepEqual(again, sealed);
  assert.deepEqual(openBlob(KEY, { kind: "data", id, sealed: again }).bytes, bytes);
});

Deno.test("key slots match Python's cryptography and open only with their secret", async () => {
  const passphraseSlot = await makeSlot(KEY, { passphrase: "correct horse" }, {
    createdMs: 1700000000000,
    host: "laptop",
    user: "ana",
    cost: { logN: 10, r: 8, p: 1 },
    fixed: {
      slotId: new Uint8Array(16).fill(0x66),
      salt: new Uint8Array(32).fill(0x77),
      nonce: new Uint8Array(12).fill(0x88),
    },
  });
  assert.equal(toHex(passphraseSlot), VECTORS.passphraseSlot);
  const keyFile = new Uint8Array(32).fill(0x99);
  const keyFileSlot = await makeSlot(KEY, { keyFile }, {
    createdMs: 1700000000001,
    host: "",
    user: "",
    fixed: {
      slotId: new Uint8Array(16).fill(0xaa),
      salt: new Uint8Array(32).fill(0xbb),
      nonce: new Uint8Array(12).fill(0xcc),
    },
  });
  assert.equal(toHex(keyFileSlot), VECTORS.keyFileSlot);

  assert.deepEqual(
    await openSlot(Uint8Array.fromHex(VECTORS.passphraseSlot), { passphrase: "correct horse" }),
    KEY,
  );
  assert.deepEqual(await openSlot(Uint8Array.fromHex(VECTORS.keyFileSlot), { keyFile }), KEY);
  assert.deepEqual(readSlotInfo(passphraseSlot), {
    slotId: new Uint8Array(16).fill(0x66),
    kind: "passphrase",
    cost: { logN: 10, r: 8, p: 1 },
    createdMs: 1700000000000,
    host: "laptop",
    user: "ana",
  });
  await assert.rejects(openSlot(passphraseSlot, { passphrase: "correct horsf" }), WrongKeyError);
  await assert.rejects(openSlot(passphraseSlot, { keyFile }), WrongKeyError);
  await assert.rejects(openSlot(keyFileSlot, { keyFile: new Uint8Array(32) }), WrongKeyError);
  // What is readable without the secret is still bound: a changed host does not open.
  const renamed = passphraseSlot.slice();
  renamed[62] ^= 1;
  await assert.rejects(openSlot(renamed, { passphrase: "correct horse" }), WrongKeyError);
});

Deno.test("a slot from a hostile server cannot ask for unbounded scrypt memory, or be malformed", async () => {
  const slot = await makeSlot(KEY, { passphrase: "p" }, {
    createdMs: 0,
    host: "h",
    user: "u",
    cost: { logN: 10, r: 1, p: 1 },
  });
  const greedy = slot.slice();
  greedy[18] = 22;
  greedy[19] = 32; // 128 · 2^22 · 32 = 16 GiB
  assert.ok(128 * 2 ** 22 * 32 > MAX_SCRYPT_MEMORY);
  await assert.rejects(openSlot(greedy, { passphrase: "p" }), KeySlotFormatError);
  for (
    const bad of [
      slot.subarray(0, 40),
      slot.subarray(0, slot.length - 1),
      Uint8Array.of(2, ...slot.subarray(1)),
    ]
  ) {
    assert.throws(() => readSlotInfo(bad), KeySlotFormatError);
  }
  const slow = slot.slice();
  slow.set([20, 8, 16], 18); // 1 GiB of memory is allowed, but N·r·p = 2^27 is 8 times the bound
  await assert.rejects(openSlot(slow, { passphrase: "p" }), KeySlotFormatError);
  const kind = slot.slice();
  kind[17] = 3;
  assert.throws(() => readSlotInfo(kind), KeySlotFormatError);
  await assert.rejects(
    makeSlot(KEY, { passphrase: "p" }, {
      createdMs: 0,
      host: "",
      user: "",
      cost: { logN: 9, r: 8, p: 1 },
    }),
    KeySlotFormatError,
  );
});

Deno.test("a host or user name over 255 bytes is cut between characters, and the slot still reads", async () => {
  const user = `${"x".repeat(254)}é`;
  const slot = await makeSlot(KEY, { keyFile: new Uint8Array(32) }, {
    createdMs: 0,
    host: "é".repeat(200),
    user,
  });
  const info = readSlotInfo(slot);
  assert.equal(info.user, "x".repeat(254));
  assert.equal(info.host, "é".repeat(127));
});
