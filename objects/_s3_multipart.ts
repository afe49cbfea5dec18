/**
 * How the S3 object store (`s3_store.ts`) puts an object from a source larger than one part: a
 * multipart upload whose parts (read exactly, `partSize` bytes each but the last) go up
 * `partsInFlight` at a time, completed only once the source gave exactly its declared size, and
 * aborted otherwise, so that the object appears whole or not at all.
 *
 * @module
 */
import { expectSourceEnd, ObjectSizeMismatchError } from "./object_store.ts";
import type { ByteSource } from "../io/byte_stream.ts";
import type { S3Client } from "./s3/s3_client.ts";

/** One object to upload in parts. */
export interface MultipartUpload {
  /** The object's name (for errors). */
  name: string;
  /** Its key in the bucket. */
  key: string;
  /** The size the source declared. */
  size: number;
  /** Bytes of each part but the last. */
  partSize: number;
  /** Parts sent at once. */
  partsInFlight: number;
}

/**
 * A multipart upload of `size` bytes from `source`, completed only if the size holds; aborted
 * otherwise (a failed abort is only logged: the upload is invisible either way).
 *
 * @throws {ObjectSizeMismatchError} if the source gives another count of bytes than `size`.
 * @throws {S3Error} if the store fails a request.
 */
export async function putMultipart(
  client: S3Client,
  source: ByteSource,
  upload: MultipartUpload,
): Promise<void> {
  const { name, key, size, partSize, partsInFlight } = upload;
  const uploadId = await client.startMultipart(key);
  const etags: Promise<string>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let failure: { error: unknown } | undefined;
  let completed = false;
  try {
    for (let offset = 0; offset < size; offset += partSize) {
      const part = new Uint8Array(Math.min(partSize, size - offset));
      await readExactly(source, part, name, size, offset);
      const etag = client.uploadPart(key, uploadId, etags.length + 1, part);
      etags.push(etag);
      const settled: Promise<unknown> = etag.then(
        () => inFlight.delete(settled),
        (error) => (failure ??= { error }, inFlight.delete(settled)),
      );
      inFlight.add(settled);
      while (inFlight.size >= partsInFlight) await Promise.race(inFlight);
      if (failure) throw failure.error;
    }
    await expectSourceEnd(source, name, size);
    await client.completeMultipart(key, uploadId, await Promise.all(etags));
    completed = true;
  } finally {
    if (!completed) {
      await Promise.allSettled(etags);
      await client.abortMultipart(key, uploadId).catch((error) => {
        // The upload is invisible either way; a lifecycle rule or a sweep of pending uploads
        // removes its parts.
        console.warn(`could not abort the multipart upload of ${key}: ${error}`);
      });
    }
  }
}

/**
 * Fills `bytes` from `source`, the part at `offset` of an object of `size` bytes.
 *
 * @throws {ObjectSizeMismatchError} if the source ends first.
 */
export async function readExactly(
  source: ByteSource,
  bytes: Uint8Array,
  name: string,
  size: number,
  offset: number,
): Promise<void> {
  let filled = 0;
  while (filled < bytes.length) {
    const count = await source.read(bytes.subarray(filled));
    if (count === null) throw new ObjectSizeMismatchError(name, size, offset + filled);
    filled += count;
  }
}
