/**
 * Lists of 32-byte ids as frames carry them: a count (1..8192) in the head, the ids back to back in
 * the body. Internal to the codec.
 *
 * @module
 */
import type { FieldReader } from "../v2/fields.ts";
import { ID_SIZE, MAX_IDS } from "./constants.ts";

/** Views of each id in `bytes` (a multiple of 32 bytes long); no copies. */
export function splitIds(bytes: Uint8Array): Uint8Array[] {
  const ids: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += ID_SIZE) ids.push(bytes.subarray(at, at + ID_SIZE));
  return ids;
}

/** Throws a RangeError unless every id is 32 bytes (what an encoder is given is the caller's). */
export function checkIds(what: string, ids: readonly Uint8Array[]): void {
  for (const id of ids) checkId(what, id);
}

/** Throws a RangeError unless `id` is 32 bytes. */
export function checkId(what: string, id: Uint8Array): void {
  if (id.length !== ID_SIZE) throw new RangeError(`${what} of ${id.length} bytes, not ${ID_SIZE}`);
}

/** Whether an id is all zero bytes (the end mark of a list of snapshots; never a SHA-256). */
export function isZeroId(id: Uint8Array): boolean {
  for (const byte of id) if (byte !== 0) return false;
  return true;
}

/** A count of ids (1..8192), refused as soon as it is in. */
export function readCount(
  reader: FieldReader,
  what: string,
  fail: (message: string) => never,
): number {
  const count = reader.u32();
  if (count < 1 || count > MAX_IDS) fail(`${count} ${what} in one frame, must be 1..${MAX_IDS}`);
  return count;
}

/** Throws a RangeError unless `count` is 1..8192. */
export function checkCount(what: string, count: number): void {
  if (count < 1 || count > MAX_IDS) {
    throw new RangeError(`${count} ${what} in one frame, must be 1..${MAX_IDS}`);
  }
}
