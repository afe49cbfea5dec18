/**
 * Room held for uploads before their bytes arrive, so that a payload that cannot fit is refused at
 * once; the index checks the quota exactly again when an upload commits.
 *
 * @module
 */
import { QuotaExceededError } from "../storage.ts";
import type { VersionIndex } from "./version_index.ts";
import { indexVersionCharge } from "../quota_charge.ts";

/** Uploads in flight per user, against one quota. */
export class QuotaReservations {
  readonly #index: VersionIndex;
  readonly #quotaOf: (userId: number) => number;
  readonly #inFlight = new Map<number, number>();

  /**
   * @param index where usage is read
   * @param quotaOf bytes a user may store; 0: no quota, nothing is held
   */
  constructor(index: VersionIndex, quotaOf: (userId: number) => number) {
    this.#index = index;
    this.#quotaOf = quotaOf;
  }

  /**
   * Holds room for an upload of `name`: its `size` bytes and what its version is charged besides
   * (`indexVersionCharge`: a version is never free, even empty).
   *
   * @throws {QuotaExceededError} if the user's usage, uploads in flight and this one would pass the
   *   quota (less the version it replaces, when retention keeps none).
   * @returns the bytes held, to give back with `release` (0 for a user without a quota).
   */
  reserve(userId: number, name: Uint8Array, size: number): number {
    const quota = this.#quotaOf(userId);
    if (quota === 0) return 0;
    const inFlight = this.#inFlight.get(userId) ?? 0;
    const charge = indexVersionCharge(name.length);
    const replaced = this.#index.keepsNoneFor(userId) ? this.#index.stat(userId, name) : undefined;
    const freedByReplace = replaced ? replaced.size + charge : 0;
    const held = size + charge;
    const wouldUse = this.#index.usage(userId) + inFlight + held - freedByReplace;
    if (wouldUse > quota) throw new QuotaExceededError(userId, wouldUse, quota);
    this.#inFlight.set(userId, inFlight + held);
    return held;
  }

  /** Gives back what `reserve` held, once the upload is committed or dropped. */
  release(userId: number, size: number): void {
    if (size === 0) return;
    const left = (this.#inFlight.get(userId) ?? size) - size;
    if (left > 0) this.#inFlight.set(userId, left);
    else this.#inFlight.delete(userId);
  }
}
