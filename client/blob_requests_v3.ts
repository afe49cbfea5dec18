/**
 * A version 3 session's blob requests (`SessionV3`, client/session_v3.ts, documents each): which
 * blobs the server lacks, put a blob, get one checked against its id, and drop damaged ones. The
 * hot path of a backup or restore of many small files: one promise per put or get, no more.
 *
 * @module
 */
import { ID_SIZE, MAX_IDS, OpV3, TAGGED_REQUEST_HEAD_SIZE } from "../protocol/v3/constants.ts";
import { encodeRequestV3Parts } from "../protocol/v3/requests.ts";
import { checkedBlob, idBytes, putFrameBound, putRequest } from "./blob_wire_v3.ts";
import type { SessionRequesterV3 } from "./session_requester_v3.ts";
import type { BlobId, BlobKind, OutgoingBlob } from "./snapshot/blobs.ts";

/** Takes an answer and drops it (a put resolves to nothing). */
function ignore(): void {}

/** Ids in one DropBlobs: the server reads each again (64 × 8 MiB is under its 1 GiB a request). */
const DROP_BATCH = 64;

/** `SessionV3.missing`: for each id, whether the server lacks it. */
export async function missingBlobs(
  requests: SessionRequesterV3,
  ids: BlobId[],
): Promise<boolean[]> {
  const batches: Promise<boolean[]>[] = [];
  for (let at = 0; at < ids.length; at += MAX_IDS) {
    const batch = ids.slice(at, at + MAX_IDS).map(idBytes);
    batches.push(
      requests.call(OpV3.Missing, TAGGED_REQUEST_HEAD_SIZE + 4 + batch.length * ID_SIZE, {
        op: OpV3.Missing,
        ids: batch,
      }).then((answer) => {
        const missing = (answer as { missing: boolean[] }).missing;
        if (missing.length !== batch.length) {
          throw requests.broken(`asked about ${batch.length} ids, answered ${missing.length}`);
        }
        return missing;
      }),
    );
  }
  return (await Promise.all(batches)).flat();
}

/** `SessionV3.put`: sends a blob; resolves once the server stored it (or had it). */
export function putBlob(requests: SessionRequesterV3, blob: OutgoingBlob): Promise<void> {
  // Compressed only once the window has room: blobs waiting hold no second copy. No `async`:
  // one promise per blob fewer (a tree of small files puts thousands).
  return requests.pipeline.call(
    OpV3.PutBlob,
    putFrameBound(blob, requests.codec),
    (tag) =>
      encodeRequestV3Parts({ ...putRequest(blob, requests.codec), userId: requests.userId, tag }),
  ).then(ignore);
}

/** `SessionV3.get`: the blob's raw bytes, decoded and checked against `id`. */
export function getBlob(
  requests: SessionRequesterV3,
  id: BlobId,
  kind: BlobKind,
): Promise<Uint8Array> {
  // No `async`: one promise per blob fewer (a restore of small files gets thousands).
  let bytes: Uint8Array;
  try {
    bytes = idBytes(id);
  } catch (error) {
    return Promise.reject(error);
  }
  return requests.call(OpV3.GetBlob, TAGGED_REQUEST_HEAD_SIZE + ID_SIZE, {
    op: OpV3.GetBlob,
    id: bytes,
  }).then((answer) => checkedBlob(id, kind, answer, requests.codec));
}

/** `SessionV3.dropBlobs`: tells the server these blobs are damaged, in batches, all at once. */
export async function dropBlobs(requests: SessionRequesterV3, ids: BlobId[]): Promise<void> {
  const batches: Promise<unknown>[] = [];
  for (let at = 0; at < ids.length; at += DROP_BATCH) {
    const batch = ids.slice(at, at + DROP_BATCH).map(idBytes);
    batches.push(
      requests.call(OpV3.DropBlobs, TAGGED_REQUEST_HEAD_SIZE + 4 + batch.length * ID_SIZE, {
        op: OpV3.DropBlobs,
        ids: batch,
      }),
    );
  }
  await Promise.all(batches);
}
