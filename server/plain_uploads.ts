/**
 * Files stored one by one (protocol v1 and v2 uploads) are stored as sent: for an account whose
 * snapshot repository is encrypted (it has a key slot, docs/encryption.md) they would put names
 * and contents in clear beside a repository whose user expects none. Such uploads are refused;
 * what the account stored before stays readable. Asked per connection and user (one LIST on S3):
 * "encrypted" is kept (the last slot is never removed), "plain" for `PLAIN_RECHECK_MS` at most (an
 * `init` during a long per-file backup stops it); at most `MAX_USERS_KNOWN` users remembered (a
 * v1 connection may name any user id).
 *
 * @module
 */
import type { SnapshotRepository } from "../storage/snapshots.ts";
import { ForbiddenError } from "./access.ts";

/** Users whose answer a connection keeps, at most. */
export const MAX_USERS_KNOWN = 64;
/** How long a "plain" answer is taken as it is. */
export const PLAIN_RECHECK_MS = 10_000;

/** See the module comment. One per connection. */
export class PlainUploadGuard {
  readonly #repository: SnapshotRepository | undefined;
  readonly #now: () => number;
  readonly #encrypted = new Map<
    number,
    { answer: Promise<boolean>; askedMs: number; stale: boolean }
  >();

  /**
   * @param repository the store's snapshots, if it keeps any
   * @param now the clock (tests pass their own)
   */
  constructor(repository: SnapshotRepository | undefined, now = () => performance.now()) {
    this.#repository = repository;
    this.#now = now;
  }

  /**
   * @throws {ForbiddenError} (the connection stays) if `userId`'s repository is encrypted; what
   *   the store throws when it cannot tell.
   */
  async check(userId: number): Promise<void> {
    if (!this.#repository) return;
    let known = this.#encrypted.get(userId);
    if (known === undefined || (known.stale && this.#now() - known.askedMs >= PLAIN_RECHECK_MS)) {
      if (this.#encrypted.size >= MAX_USERS_KNOWN) this.#encrypted.clear();
      const answer = this.#repository.listKeySlots(userId).then((slots) => slots.length > 0);
      known = { answer, askedMs: this.#now(), stale: false };
      const entry = known;
      this.#encrypted.set(userId, entry);
      // A store that could not tell is asked again at the next upload; "plain" in a while.
      answer.then((encrypted) => entry.stale = !encrypted, () => this.#encrypted.delete(userId));
    }
    if (await known.answer) {
      throw new ForbiddenError(
        `user ${userId}'s repository is encrypted: files stored one by one would be in clear, ` +
          "so they are refused; back up as snapshots (with the repository's passphrase or key " +
          "file)",
        false,
      );
    }
  }
}
