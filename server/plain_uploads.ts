/**
 * Files stored one by one (protocol v1 and v2 uploads) are stored as sent: for an account whose
 * snapshot repository is encrypted (it has a key slot, docs/encryption.md) they would put names
 * and contents in clear beside a repository whose user expects none. Such uploads are refused;
 * what the account stored before stays readable. Asked once per connection and user (one LIST on
 * S3), at most `MAX_USERS_KNOWN` users remembered (a v1 connection may name any user id).
 *
 * @module
 */
import type { SnapshotRepository } from "../storage/snapshots.ts";
import { ForbiddenError } from "./access.ts";

/** Users whose answer a connection keeps, at most. */
export const MAX_USERS_KNOWN = 64;

/** See the module comment. One per connection. */
export class PlainUploadGuard {
  readonly #repository: SnapshotRepository | undefined;
  readonly #encrypted = new Map<number, Promise<boolean>>();

  /** @param repository the store's snapshots, if it keeps any */
  constructor(repository: SnapshotRepository | undefined) {
    this.#repository = repository;
  }

  /**
   * @throws {ForbiddenError} (the connection stays) if `userId`'s repository is encrypted; what
   *   the store throws when it cannot tell.
   */
  async check(userId: number): Promise<void> {
    if (!this.#repository) return;
    let encrypted = this.#encrypted.get(userId);
    if (encrypted === undefined) {
      if (this.#encrypted.size >= MAX_USERS_KNOWN) this.#encrypted.clear();
      encrypted = this.#repository.listKeySlots(userId).then((slots) => slots.length > 0);
      this.#encrypted.set(userId, encrypted);
      // A store that could not tell is asked again at the next upload.
      encrypted.catch(() => this.#encrypted.delete(userId));
    }
    if (await encrypted) {
      throw new ForbiddenError(
        `user ${userId}'s repository is encrypted: files stored one by one would be in clear, ` +
          "so they are refused; back up as snapshots (with the repository's passphrase or key " +
          "file)",
        false,
      );
    }
  }
}
