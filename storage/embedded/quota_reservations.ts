/**
 * Room held for uploads before their bytes arrive, so that a payload that cannot fit is refused at
 * once; the index checks the quota exactly again when an upload commits.
 *
 * @module
 */
import { QuotaExceededError } from "../storage.ts";
import type { VersionIndex } from "./version_index.ts";

/** Uploads in flight per user, against one quota. */
export class QuotaReservations {
  readonly #index: VersionIndex;
  readonly #quotaBytes: number;
  readonly #inFlight = new Map<number, number>();

  /**
   * @param index where usage is read
   * @param quotaBytes bytes each user may store; 0: no quota, nothing is held
   */
  constructor(index: VersionIndex, quotaBytes: number) {
    this.#index = index;
    this.#quotaBytes = quotaBytes;
  }

  /**
   * Holds `size` bytes for an upload of `name`.
   *
   * @throws {QuotaExceededError} if the user's usage, uploads in flight and this one would pass the
   *   quota (less the version it replaces, when retention keeps none).
   */
  reserve(userId: number, name: Uint8Array, size: number): void {
    if (this.#quotaBytes === 0) return;
    const inFlight = this.#inFlight.get(userId) ?? 0;
    const freedByReplace = this.#index.keepsNone ? this.#index.stat(userId, name)?.size ?? 0 : 0;
    const wouldUse = this.#index.usage(userId) + inFlight + size - freedByReplace;
    if (wouldUse > this.#quotaBytes) {
      throw new QuotaExceededError(userId, wouldUse, this.#quotaBytes);
    }
    this.#inFlight.set(userId, inFlight + size);
  }

  /** Gives back what `reserve` held, once the upload is committed or dropped. */
  release(userId: number, size: number): void {
    if (this.#quotaBytes === 0) return;
    const left = (this.#inFlight.get(userId) ?? size) - size;
    if (left > 0) this.#inFlight.set(userId, left);
    else this.#inFlight.delete(userId);
  }
}
