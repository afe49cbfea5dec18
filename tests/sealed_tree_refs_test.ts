/**
 * A sealed tree keeps the wire's bound on its refs: the server takes at most one ref per
 * `MIN_TREE_BYTES_PER_REF` bytes of a tree's declared raw length, and a sealed blob declares its
 * sealed length. A tree whose ids repeat compresses far below that, so the encrypted client must
 * not compress it past the bound (found by `deno task bench --only snapshots`: a folder of ten
 * files could not be backed up encrypted).
 */
import assert from "node:assert/strict";
import { putRequest } from "../client/blob_wire_v3.ts";
import { SealedCodec } from "../client/sealed_codec_v3.ts";
import { newMasterKey } from "../client/repository_keys/key_slot.ts";
import { MIN_TREE_BYTES_PER_REF } from "../protocol/v3/constants.ts";
import { encodeRequestV3, parseRequestHeadV3 } from "../protocol/v3/requests.ts";

Deno.test("a sealed tree of many refs that compresses well still passes the refs bound", () => {
  const codec = new SealedCodec(newMasterKey());
  const content = codec.blobId(new TextEncoder().encode("the same file, ten times"));
  // The tree format writes each ref as 64 hex digits: here the same one, which zstd shrinks.
  const entries = Array.from({ length: 40 }, (_, i) => `{"name":"f${i}","content":"${content}"}`);
  const raw = new TextEncoder().encode(`[${entries.join(",")}]`);
  const refs = entries.map(() => content);
  assert.ok(raw.length >= refs.length * MIN_TREE_BYTES_PER_REF);
  const request = { ...putRequest({ id: codec.blobId(raw), kind: "tree", raw, refs }, codec) };
  const frame = encodeRequestV3({ ...request, userId: 1, tag: 1 });
  const head = parseRequestHeadV3(frame);
  assert.ok(head && "refCount" in head && head.refCount === refs.length);
});
