/**
 * Quotas on a shared bucket: a user's usage as last listed (listed again once older than a TTL, or
 * after pruning), plus what this server stored since and holds for uploads in flight. Other
 * servers' uploads since the last listing are not seen: see docs/storage.md. Usage is the bytes of
 * the user's versions and the charge of every record, deletions included (`recordChargeOf`).
 *
 * @module
 */
import { QuotaExceededError } from "../storage.ts";
import { recordCharge } from "../quota_charge.ts";
import { encodeName } from "./keys.ts";

const encoder = new TextEncoder();

/**
 * What one record of `name` (a version, or a deletion) is charged against the quota besides its
 * bytes: the name as its key spells it, and the fixed overhead (see `storage/quota_charge.ts`).
 */
export function recordChargeOf(name: string): number {
  return recordCharge(encoder.encode(encodeName(name)).length);
}

/** Usage per user, as this server knows it. */
export class UsageEstimates {
  readonly #known = new Map<number, { bytes: number; atMs: number }>();
  readonly #inFlight = new Map<number, number>();

  /**
   * @param list lists a user's usage from the store
   * @param quotaOf a user's quota; 0: none
   * @param ttlMs how long a listed usage is trusted
   */
  constructor(
    private readonly list: (userId: number) => Promise<number>,
    private readonly quotaOf: (userId: number) => number,
    private readonly ttlMs: number,
  ) {}

  /** Records a usage just listed. */
  listed(userId: number, bytes: number): void {
    this.#known.set(userId, { bytes, atMs: performance.now() });
  }

  /** Forgets what was listed (after pruning): the next check lists again. */
  forget(userId?: number): void {
    if (userId === undefined) this.#known.clear();
    else this.#known.delete(userId);
  }

  /**
   * Holds `size` bytes for an upload; resolves to a release function.
   *
   * @throws {QuotaExceededError} if usage, uploads in flight and this one would pass the quota.
   */
  async reserve(userId: number, size: number): Promise<() => void> {
    if (this.quotaOf(userId) === 0) return () => {};
    await this.check(userId, size + (this.#inFlight.get(userId) ?? 0));
    this.#inFlight.set(userId, (this.#inFlight.get(userId) ?? 0) + size);
    let held = true;
    return () => {
      if (held) this.#inFlight.set(userId, (this.#inFlight.get(userId) ?? size) - size);
      held = false;
    };
  }

  /** @throws {QuotaExceededError} if the user's usage and `adding` bytes would pass the quota. */
  async check(userId: number, adding: number): Promise<void> {
    const quota = this.quotaOf(userId);
    if (quota === 0) return;
    const wouldUse = await this.#estimate(userId) + adding;
    if (wouldUse > quota) throw new QuotaExceededError(userId, wouldUse, quota);
  }

  /** Counts bytes this server just stored. */
  stored(userId: number, bytes: number): void {
    const known = this.#known.get(userId);
    if (known) known.bytes += bytes;
  }

  async #estimate(userId: number): Promise<number> {
    const known = this.#known.get(userId);
    if (known && performance.now() - known.atMs < this.ttlMs) return known.bytes;
    return await this.list(userId);
  }
}
