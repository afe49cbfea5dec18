/**
 * Helpers of the chunked S3 tests: random bytes that never repeat (so that nothing deduplicates by
 * accident), and the bytes a prefix holds.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { keysUnder } from "./_s3_storage.ts";

/** `size` random bytes (filled 64 KiB at a time, the most `getRandomValues` gives at once). */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

/** Bytes of every object under `prefix`. */
export async function bytesUnder(client: S3Client, prefix: string): Promise<number> {
  return (await keysUnder(client, prefix)).reduce((sum, { size }) => sum + size, 0);
}

/** The kind letter of each record of `name` (newest first), from the keys under `userPrefix`. */
export async function recordKinds(
  client: S3Client,
  userPrefix: string,
  encodedName: string,
): Promise<string[]> {
  return (await keysUnder(client, `${userPrefix}${encodedName} `)).map(({ key }) =>
    key.slice(userPrefix.length + encodedName.length + 1).split(" ")[1]
  );
}
