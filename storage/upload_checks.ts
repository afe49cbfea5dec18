/**
 * The checks every backend's upload makes before it commits: all the declared bytes arrived, and
 * their SHA-256 is the one the client sent.
 *
 * @module
 */
import { sameBytes } from "../common/bytes.ts";
import { type CommitOptions, DigestMismatchError } from "./storage.ts";

/**
 * Returns `sha256` if the client sent no digest or the same one.
 *
 * @throws {DigestMismatchError} if the client's digest differs.
 */
export function checkedDigest(
  sha256: Uint8Array,
  options: CommitOptions | undefined,
  fileName: string,
): Uint8Array {
  const expected = options?.sha256;
  if (expected && !sameBytes(expected, sha256)) throw new DigestMismatchError(fileName);
  return sha256;
}

/** @throws {RangeError} if `more` bytes after `got` would pass the `size` declared. */
export function expectRoom(got: number, more: number, size: number): void {
  if (got + more > size) throw new RangeError(`more than the ${size} bytes declared`);
}

/** @throws {RangeError} if `got` bytes arrived of the `size` declared. */
export function expectFilled(got: number, size: number): void {
  if (got !== size) throw new RangeError(`upload ended after ${got} of ${size} bytes`);
}
