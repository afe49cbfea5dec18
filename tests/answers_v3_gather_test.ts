/**
 * A version 3 server gathers the answers of a restore's small blobs into few writes: the answer
 * writer takes blobs up to half its batch, and the session holds gathered answers behind a
 * GetBlob (a quick read) as it does behind a small PutBlob.
 */
import assert from "node:assert/strict";
import { AnswerWriterV3 } from "../server/answers_v3.ts";
import { type EntryV3, longWork } from "../server/pipeline_entry_v3.ts";
import { encodeResponseV3Parts } from "../protocol/v3/responses.ts";
import { BlobEncoding, BlobKind, OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import { GET_BLOB_RESERVE } from "../server/request_reader_v3.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import { concat } from "./_helpers.ts";

const idle = { arm: () => {}, disarm: () => {}, release: () => {} };
const limits = { frameTimeoutMs: 60_000, minTransferRate: 1 };

Deno.test("blob answers of 1-32 KiB are gathered: one write per 64 KiB or so, the bytes in order", async () => {
  const writes: Uint8Array[] = [];
  const sink = {
    write: (bytes: Uint8Array) => {
      writes.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
  };
  const writer = new AnswerWriterV3(sink, { deadline: idle, limits });
  const expected: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const bytes = new Uint8Array(1024 + ((i * 7919) % (31 * 1024))).fill(i);
    const parts = encodeResponseV3Parts({
      status: StatusV3.Blob,
      tag: i,
      kind: BlobKind.Data,
      encoding: BlobEncoding.Raw,
      rawLength: bytes.length,
      bytes,
    });
    expected.push(...parts);
    await writer.add(parts);
  }
  await writer.flush();
  const total = expected.reduce((sum, part) => sum + part.length, 0);
  assert.deepEqual(concat(...writes), concat(...expected));
  assert.ok(
    writes.length <= Math.ceil(total / (32 * 1024)),
    `${writes.length} writes for ${total} bytes`,
  );
});

Deno.test("answers gathered wait behind a GetBlob, not behind a large PutBlob's work", () => {
  const entry = (request: Partial<RequestV3>, held: number) =>
    ({ request: request as RequestV3, held }) as EntryV3;
  assert.equal(longWork(entry({ op: OpV3.GetBlob }, GET_BLOB_RESERVE)), false);
  assert.equal(longWork(entry({ op: OpV3.PutBlob }, 4 * 1024 * 1024)), true);
  assert.equal(longWork(entry({ op: OpV3.PutBlob }, 16 * 1024)), false);
});
