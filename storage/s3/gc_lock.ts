/**
 * The prune lock of a bucket shared by many servers (docs/s3_repository_plan.md §3.6), restic's
 * protocol (`internal/repository/lock_file.go:102-140,159-208`) on objects, since the store has no
 * conditional writes:
 *
 * 1. PUT `g/lock/RAND`; 2. wait `settleMs`; 3. LIST `g/lock/`; 4. if another lock's LastModified is
 * younger than `staleMs` by the store's clock (the listing's `Date`), DELETE ours and give up this
 * round. Each LIST follows its own PUT, so of two contenders the later LIST sees the earlier lock:
 * both may give up, never both go ahead.
 *
 * The holder re-PUTs its key every `refreshMs`. It counts as holding while its last refresh that
 * was answered within `staleMs - refreshableMs` was sent at most `refreshableMs` ago (by the
 * larger of the monotonic and wall deltas, `gc_clock.ts`); past that the lock is lost for good (no
 * refresh may revive a lock another server may have taken), and `ensureHeld` throws before every
 * destructive batch. The lock only saves work: GC's safety (§3.4) does not depend on it.
 *
 * @example
 * ```ts ignore
 * const lock = await tryLock({ client, prefix, owner: "server-a" });
 * if (lock) {
 *   try {
 *     for (const batch of batches) {
 *       lock.ensureHeld(); // throws GcLockLostError once the lock may be someone else's
 *       await deleteAll(batch);
 *     }
 *   } finally {
 *     await lock.release();
 *   }
 * }
 * ```
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { elapsedMs, type GcClock, type Instant, instantOf, systemClock } from "./gc_clock.ts";
import { type GcBucket, lockPrefix, randomId } from "./gc_objects.ts";

/** How a contender takes the lock; durations in ms. */
export interface GcLockOptions {
  /** The bucket (an `S3Client`). */
  client: GcBucket;
  /** The store's key prefix (`site1/`, or ""). */
  prefix: string;
  /** Who holds it (a server tag), written in the lock object for people reading the bucket. */
  owner: string;
  /** Between the PUT of our lock and the LIST. @default 1000 */
  settleMs?: number;
  /** Between two refreshes of a held lock. @default 60000 */
  refreshMs?: number;
  /** A lock whose object is older than this by the store's clock is dead. @default 180000 */
  staleMs?: number;
  /** A holder whose last counted refresh is older than this has lost the lock. @default 120000 */
  refreshableMs?: number;
  /** The clocks and sleep. @default systemClock */
  clock?: GcClock;
  /** Told of a refresh that failed (the lock survives one; `ensureHeld` says when it is lost). */
  onRefreshError?: (error: unknown) => void;
}

/** Thrown by `GcLock.ensureHeld` once another server may hold the lock. */
export class GcLockLostError extends BackupError {}

const DEFAULTS = { settleMs: 1000, refreshMs: 60_000, staleMs: 180_000, refreshableMs: 120_000 };

/**
 * Tries to take the lock once (PUT, wait, LIST).
 *
 * @returns the held lock, or `undefined` if another contender's fresh lock was seen (ours is then
 *   deleted; try again later, with jitter).
 * @throws {S3Error} if the store refused or failed a request (ours is then deleted, best effort).
 */
export async function tryLock(options: GcLockOptions): Promise<GcLock | undefined> {
  const o = { ...DEFAULTS, clock: systemClock, ...options };
  if (!(o.refreshableMs < o.staleMs && o.refreshMs < o.refreshableMs)) {
    throw new RangeError(
      `need refreshMs < refreshableMs < staleMs, got ${o.refreshMs}, ${o.refreshableMs}, ${o.staleMs}`,
    );
  }
  const key = `${lockPrefix(o.prefix)}${randomId()}`;
  const body = new TextEncoder().encode(
    JSON.stringify({ owner: o.owner, pid: Deno.pid, startedMs: o.clock.now() }),
  );
  const sent = instantOf(o.clock);
  try {
    await o.client.put(key, body);
    const answeredInTime = elapsedMs(o.clock, sent) <= o.staleMs - o.refreshableMs;
    await o.clock.sleep(o.settleMs);
    const { others, stale, storeNowMs, sawOurs } = await listLocks(
      o.client,
      o.prefix,
      key,
      o.staleMs,
    );
    // Not seeing our own lock means the listing lags: then it may miss others' too.
    if (others > 0 || !sawOurs || !answeredInTime) {
      await o.client.delete(key);
      return undefined;
    }
    const lock = new GcLock(key, body, sent, storeNowMs - 1000, o);
    // Dead contenders' objects would stay forever otherwise; they no longer count anyway.
    for (const dead of stale) await o.client.delete(dead).catch(o.onRefreshError ?? (() => {}));
    return lock;
  } catch (error) {
    await o.client.delete(key).catch(() => {});
    throw error;
  }
}

/** A lock this process holds; see the module comment. */
export class GcLock implements AsyncDisposable {
  /** Our object's key. */
  readonly key: string;
  /**
   * The store's time when the lock was taken, minus its `Date` header's resolution (1 s): the mark
   * time μ of the run (§3.3).
   */
  readonly storeTimeMs: number;
  readonly #body: Uint8Array;
  readonly #o: Required<Omit<GcLockOptions, "onRefreshError">> & GcLockOptions;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  #lastRefresh: Instant;
  #lost = false;

  /** Built by `tryLock` only. */
  constructor(
    key: string,
    body: Uint8Array,
    sent: Instant,
    storeTimeMs: number,
    options: Required<Omit<GcLockOptions, "onRefreshError">> & GcLockOptions,
  ) {
    this.key = key;
    this.storeTimeMs = storeTimeMs;
    this.#body = body;
    this.#o = options;
    this.#lastRefresh = sent;
    this.#loop = this.#refreshLoop();
  }

  /** Whether the lock may be someone else's by now (for good: it is never taken back). */
  get lost(): boolean {
    if (!this.#lost && elapsedMs(this.#o.clock, this.#lastRefresh) > this.#o.refreshableMs) {
      this.#lost = true;
    }
    return this.#lost;
  }

  /**
   * Call before each destructive batch.
   *
   * @throws {GcLockLostError} if the last counted refresh is older than `refreshableMs`.
   */
  ensureHeld(): void {
    if (this.lost) {
      throw new GcLockLostError(
        `the prune lock ${this.key} was last refreshed ${
          Math.round(elapsedMs(this.#o.clock, this.#lastRefresh))
        } ms ago (more than ${this.#o.refreshableMs} ms): another server may hold it`,
      );
    }
  }

  /** Stops refreshing and deletes our object. */
  async release(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    this.#lost = true;
    await this.#o.client.delete(this.key);
  }

  /** See `release`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  async #refreshLoop(): Promise<void> {
    const { clock, refreshMs, staleMs, refreshableMs } = this.#o;
    const signal = this.#stop.signal;
    for (;;) {
      await clock.sleep(refreshMs, signal);
      if (signal.aborted || this.lost) return;
      const sent = instantOf(clock);
      try {
        await this.#o.client.put(this.key, this.#body);
      } catch (error) {
        this.#o.onRefreshError?.(error);
        continue;
      }
      // A PUT that took longer may have landed after another contender found us stale.
      if (elapsedMs(clock, sent) <= staleMs - refreshableMs) this.#lastRefresh = sent;
    }
  }
}

/**
 * Other contenders' fresh locks (a count) and stale ones (keys), by the listing's `Date`, and
 * whether ours was listed.
 */
async function listLocks(client: GcBucket, prefix: string, ours: string, staleMs: number) {
  let others = 0;
  let sawOurs = false;
  let storeNowMs = NaN;
  const stale: string[] = [];
  for await (const page of client.list(lockPrefix(prefix))) {
    if (!Number.isFinite(page.dateMs)) throw new BackupError("the store's listing has no Date");
    // The first page's Date is the earliest: the fewest locks look stale by it.
    if (Number.isNaN(storeNowMs)) storeNowMs = page.dateMs;
    for (const { key, lastModifiedMs } of page) {
      if (key === ours) {
        sawOurs = true;
        continue;
      }
      // Date is whole seconds, so the store's now is in [Date, Date + 1 s): count as fresh when
      // in doubt.
      if (lastModifiedMs > storeNowMs - staleMs) others++;
      else stale.push(key);
    }
  }
  return { others, stale, storeNowMs, sawOurs };
}
