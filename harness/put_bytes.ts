/**
 * Storing bytes straight through the `Storage` interface, for tests and harnesses that build roots
 * without a client.
 *
 * @module
 */
import type { FileMetadata, Storage } from "../storage/storage.ts";

/** Bytes handed to each `write` of `putBytes`. */
export const PUT_WRITE_BYTES = 64 * 1024;

/** Uploads `bytes` as `name` in writes of `PUT_WRITE_BYTES`, and commits (aborts on a failure). */
export async function putBytes(
  storage: Storage,
  userId: number,
  name: string,
  bytes: Uint8Array,
): Promise<FileMetadata> {
  const upload = await storage.beginUpload(userId, name, { size: bytes.length });
  try {
    for (let at = 0; at < bytes.length; at += PUT_WRITE_BYTES) {
      await upload.write(bytes.subarray(at, at + PUT_WRITE_BYTES));
    }
  } catch (error) {
    await upload.abort();
    throw error;
  }
  return await upload.commit();
}
