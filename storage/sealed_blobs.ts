/**
 * Sealed blobs (docs/keys_plan.md §2) as both engines take them: how a blob's encoding is
 * recorded (a pack's compression byte), the raw limit of a sealed blob (its kind's, plus the
 * seal), and the repository's mode rule ("no silent mixing"): a user with a key slot has an
 * encrypted repository, which takes only sealed blobs; a user without one, none.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import type { BlobCompression } from "../repository/pack_format.ts";
import { MAX_SEAL_OVERHEAD } from "../protocol/v3/constants.ts";
import {
  type BlobEncoding,
  type BlobKind,
  MAX_DATA_BLOB_BYTES,
  MAX_TREE_BYTES,
  RepositoryModeError,
} from "./snapshots.ts";

export { MAX_SEAL_OVERHEAD };

/**
 * The compression a pack and an index record for a blob sent with `encoding`.
 *
 * @example
 * ```ts
 * import { compressionOfEncoding, encodingOfCompression } from "./sealed_blobs.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(compressionOfEncoding("sealed"), "sealed");
 * assert.equal(encodingOfCompression(compressionOfEncoding("raw")), "raw");
 * ```
 */
export function compressionOfEncoding(encoding: BlobEncoding): BlobCompression {
  if (encoding === "sealed") return "sealed";
  return encoding === "zstd" ? "zstd" : "none";
}

/** The encoding a stored blob is read back with, from the compression its index records. */
export function encodingOfCompression(compression: BlobCompression): BlobEncoding {
  if (compression === "sealed") return "sealed";
  return compression === "zstd" ? "zstd" : "raw";
}

/**
 * The largest raw length a blob of `kind` sent with `encoding` may declare: the kind's limit, and
 * for a sealed blob the seal's bytes on top (its raw length is its sealed length).
 */
export function rawLimitOf(kind: BlobKind, encoding: BlobEncoding): number {
  const limit = kind === "tree" ? MAX_TREE_BYTES : MAX_DATA_BLOB_BYTES;
  return encoding === "sealed" ? limit + MAX_SEAL_OVERHEAD : limit;
}

/** How long a session takes a "plain" answer as it is. */
export const PLAIN_RECHECK_MS = 10_000;

/**
 * The mode rule for one store session: whether the user's repository is encrypted is asked at the
 * first blob; "encrypted" is kept for the session (the last key slot cannot be removed), "plain"
 * asked again after `PLAIN_RECHECK_MS` (an `init` during a long plain session stops its plain
 * blobs; the commit is checked again in any case, so a session begun before the first slot makes
 * no plain snapshot after it).
 *
 * @example
 * ```ts
 * import { RepositoryMode } from "./sealed_blobs.ts";
 * import { RepositoryModeError } from "./snapshots.ts";
 * import assert from "node:assert/strict";
 *
 * const mode = new RepositoryMode(7, () => true);
 * await mode.check("sealed");
 * await assert.rejects(mode.check("raw"), RepositoryModeError);
 * ```
 */
export class RepositoryMode {
  readonly #userId: number;
  readonly #encrypted: () => boolean | Promise<boolean>;
  readonly #now: () => number;
  #known: Promise<boolean> | undefined;
  #askedMs = 0;
  #plain = false;

  /**
   * @param userId whose repository
   * @param encrypted whether the user has a key slot now: asked once while it answers
   *   "encrypted" (the last slot is never removed), again `PLAIN_RECHECK_MS` after a "plain"
   * @param now the clock (tests pass their own)
   */
  constructor(
    userId: number,
    encrypted: () => boolean | Promise<boolean>,
    now: () => number = () => performance.now(),
  ) {
    this.#userId = userId;
    this.#encrypted = encrypted;
    this.#now = now;
  }

  /**
   * Checks a blob's encoding against the repository's mode.
   *
   * @throws {RepositoryModeError} if a sealed blob goes to a plain repository, or a raw or zstd
   *   one to an encrypted repository.
   */
  async check(encoding: BlobEncoding): Promise<void> {
    if (this.#plain && this.#now() - this.#askedMs >= PLAIN_RECHECK_MS) this.#known = undefined;
    if (this.#known === undefined) {
      this.#askedMs = this.#now();
      this.#plain = false;
    }
    const asked = this.#known ??= Promise.resolve().then(this.#encrypted);
    let encrypted: boolean;
    try {
      encrypted = await asked;
    } catch (error) {
      // A failed look (a LIST on S3) is not remembered: the next blob asks again.
      if (this.#known === asked) this.#known = undefined;
      throw error;
    }
    // An init may come while a plain session runs (its commit is checked again too).
    if (this.#known === asked) this.#plain = !encrypted;
    if (encrypted !== (encoding === "sealed")) {
      throw new RepositoryModeError(this.#userId, encrypted);
    }
  }
}

/**
 * A file's chunk (a v1/v2 upload) whose id is one of the user's sealed blobs: refused, as the
 * mode rule refuses a plain blob to an encrypted repository (the same status), because a file
 * naming it could never be read (a seal has no raw bytes here), and the store keeps one blob per
 * id. Only a client making ids collide on purpose meets it.
 */
export class SealedChunkError extends RepositoryModeError {
  /**
   * @param userId whose repository
   * @param id the chunk's id
   */
  constructor(userId: number, readonly id: Uint8Array) {
    super(userId, true);
    this.message = `chunk ${toHex(id)} of a file is one of user ${userId}'s sealed blobs ` +
      "(an encrypted repository's): refused, a file's chunk is never read from a seal";
  }
}
