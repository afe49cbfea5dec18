import { LimitExceededError } from "../protocol/errors.ts";
import type { Storage } from "./storage.ts";

/** Room held for one upload until it is committed or dropped. */
export interface QuotaReservation {
  /** The upload is stored: its size replaces the old file's in the user's usage. */
  commit(): void;
  /** The upload failed: give the room back. */
  release(): void;
}

/**
 * Bytes stored per user against a quota. Usage is read from disk on a user's first request after start
 * and kept up to date from then on; uploads in flight hold their declared size, so that concurrent
 * uploads cannot together exceed the quota.
 */
export class QuotaLedger {
  readonly #storage: Storage;
  readonly #quota: number;
  readonly #stored = new Map<number, Promise<number>>();
  readonly #inFlight = new Map<number, number>();

  /**
   * @param storage where usage is read from
   * @param quotaBytes bytes each user may store; 0 means no quota
   */
  constructor(storage: Storage, quotaBytes: number) {
    this.#storage = storage;
    this.#quota = quotaBytes;
  }

  /**
   * Holds room for an upload of `size` bytes replacing `name`.
   *
   * @throws {LimitExceededError} if the user's stored bytes, minus the file it replaces, plus uploads
   *   in flight and this one would pass the quota.
   */
  async reserve(userId: number, name: string, size: number): Promise<QuotaReservation> {
    if (this.#quota === 0) return { commit() {}, release() {} };
    const stored = await this.#storedBytes(userId);
    const replaced = this.#storage.storedSize(userId, name);
    const inFlight = this.#inFlight.get(userId) ?? 0;
    const after = stored - replaced + inFlight + size;
    if (after > this.#quota) {
      throw new LimitExceededError(
        `user ${userId} would store ${after} bytes, over the quota of ${this.#quota}`,
      );
    }
    this.#inFlight.set(userId, inFlight + size);
    let settled = false;
    const settle = (storedDelta: number) => {
      if (settled) return;
      settled = true;
      this.#inFlight.set(userId, (this.#inFlight.get(userId) ?? size) - size);
      this.#adjust(userId, storedDelta);
    };
    return { commit: () => settle(size - replaced), release: () => settle(0) };
  }

  /** Records that a stored file of `size` bytes was deleted. */
  released(userId: number, size: number): void {
    if (this.#quota !== 0) this.#adjust(userId, -size);
  }

  #storedBytes(userId: number): Promise<number> {
    let stored = this.#stored.get(userId);
    if (!stored) {
      stored = this.#storage.usage(userId);
      this.#stored.set(userId, stored);
      stored.catch(() => this.#stored.delete(userId));
    }
    return stored;
  }

  #adjust(userId: number, delta: number): void {
    const stored = this.#stored.get(userId);
    if (stored && delta !== 0) {
      this.#stored.set(userId, stored.then((bytes) => Math.max(0, bytes + delta)));
    }
  }
}
