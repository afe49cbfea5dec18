/**
 * How the S3 object store (`s3_store.ts`) reads a GET's body: into the caller's buffer (a ranged
 * read, refused if the store sends more than it holds), or into one buffer of the size the
 * answer's `Content-Length` declares (refused if fewer bytes come).
 *
 * @module
 */
import { ObjectStoreError } from "./object_store.ts";

/**
 * Reads a ranged GET's body into `target`; resolves to the bytes that came.
 *
 * @throws {ObjectStoreError} if the store sent more than `target` holds.
 */
export async function readBodyInto(
  response: Response,
  name: string,
  target: Uint8Array,
): Promise<number> {
  if (!response.body) return 0;
  let filled = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > target.length) {
        throw new ObjectStoreError(
          `object ${name}: the store sent more than ${target.length} bytes`,
        );
      }
      target.set(value, filled);
      filled += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return filled;
}

/** Reads a GET's body into one buffer, of the size its `Content-Length` says when it says one. */
export async function readBody(response: Response, name: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!response.body) return new Uint8Array(0);
  if (!Number.isSafeInteger(declared) || declared < 0) {
    return new Uint8Array(await response.arrayBuffer());
  }
  const bytes = new Uint8Array(declared);
  const filled = await readBodyInto(response, name, bytes);
  if (filled < declared) {
    throw new ObjectStoreError(`object ${name}: the store sent ${filled} of ${declared} bytes`);
  }
  return bytes;
}
