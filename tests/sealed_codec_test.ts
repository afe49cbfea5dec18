/**
 * The client's codecs against a hostile server (docs/keys_plan.md §5): what an encrypted
 * repository's client accepts is only the blob or record it asked for, sealed under its key. A
 * blob served for another id or kind, one of another repository, a flipped or cut one, a plain
 * one, a record of another repository: each refused. And a plain repository's client refuses a
 * sealed answer rather than take its bytes for the blob.
 */
import assert from "node:assert/strict";
import { BlobEncoding, BlobKind, StatusV3 } from "../protocol/v3/constants.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import { checkedBlob, PLAIN_CODEC, putRequest } from "../client/blob_wire_v3.ts";
import { SealedCodec } from "../client/sealed_codec_v3.ts";
import { newMasterKey } from "../client/repository_keys/key_slot.ts";
import { SealBrokenError } from "../client/repository_keys/errors.ts";
import { BlobUnavailableError, type OutgoingBlob } from "../client/snapshot/blobs.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** The 232 a server answers with for a blob as `codec` would have put it. */
function served(codec: SealedCodec | typeof PLAIN_CODEC, blob: OutgoingBlob): ResponseV3 {
  const put = putRequest(blob, codec);
  return {
    status: StatusV3.Blob,
    tag: 1,
    kind: put.kind,
    encoding: put.encoding,
    rawLength: put.rawLength,
    bytes: put.bytes,
  };
}

Deno.test("an encrypted repository's blob comes back only as itself", () => {
  const codec = new SealedCodec(newMasterKey());
  const raw = text("the contents of a file, ".repeat(100)); // compresses: zstd inside the seal
  const id = codec.blobId(raw);
  const answer = served(codec, { id, kind: "data", raw });
  assert.equal((answer as { encoding: number }).encoding, BlobEncoding.Sealed);
  assert.deepEqual(checkedBlob(id, "data", answer, codec), raw);
  // Never the plaintext on the wire, and the id is not the SHA-256 a server could test for.
  assert.ok(
    !new TextDecoder("latin1").decode((answer as { bytes: Uint8Array }).bytes)
      .includes("contents of a file"),
  );
  assert.notEqual(id, PLAIN_CODEC.blobId(raw));

  const other = codec.blobId(text("another chunk"));
  assert.throws(() => checkedBlob(other, "data", answer, codec), BlobUnavailableError);
  const asTree = { ...answer, kind: BlobKind.Tree } as ResponseV3;
  assert.throws(() => checkedBlob(id, "tree", asTree, codec), /does not open/);
  const bytes = (answer as { bytes: Uint8Array }).bytes;
  const flipped = bytes.slice();
  flipped[20] ^= 1;
  const flippedAnswer = { ...answer, bytes: flipped } as ResponseV3;
  assert.throws(() => checkedBlob(id, "data", flippedAnswer, codec), /does not open/);
  const cut = { ...answer, bytes: bytes.subarray(0, 30), rawLength: 30 } as ResponseV3;
  assert.throws(() => checkedBlob(id, "data", cut, codec), BlobUnavailableError);
});

Deno.test("a blob of another repository, or a plain one, does not pass for an encrypted repository's", () => {
  const mine = new SealedCodec(newMasterKey());
  const theirs = new SealedCodec(newMasterKey());
  const raw = text("a chunk both users store");
  const id = mine.blobId(raw);
  // The other repository's seal of the same bytes, served under my id.
  const foreign = served(theirs, { id, kind: "data", raw });
  assert.throws(() => checkedBlob(id, "data", foreign, mine), /does not open/);
  const plain = served(PLAIN_CODEC, { id, kind: "data", raw });
  assert.throws(() => checkedBlob(id, "data", plain, mine), /sent unsealed/);
});

Deno.test("a plain repository's client refuses a sealed answer", () => {
  const sealed = new SealedCodec(newMasterKey());
  const raw = text("plain data");
  const id = PLAIN_CODEC.blobId(raw);
  const answer = served(sealed, { id, kind: "data", raw });
  assert.throws(() => checkedBlob(id, "data", answer, PLAIN_CODEC), /sent sealed/);
});

Deno.test("a snapshot record opens only under the key that sealed it", () => {
  const mine = new SealedCodec(newMasterKey());
  const theirs = new SealedCodec(newMasterKey());
  const record = text('{"host":"h1"}');
  const sealed = mine.sealRecord(record);
  assert.deepEqual(mine.openRecord(sealed), record);
  assert.throws(() => theirs.openRecord(sealed), SealBrokenError);
  assert.throws(() => mine.openRecord(record), SealBrokenError);
  // A blob sealed as data is not a record, even under the same key.
  const raw = text("x");
  const put = putRequest({ id: mine.blobId(raw), kind: "data", raw }, mine);
  assert.throws(() => mine.openRecord(put.bytes), SealBrokenError);
});
