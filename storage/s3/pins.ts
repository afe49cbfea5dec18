/**
 * An upload's pin (rules W2 and W3 of docs/s3_repository_plan.md §3.2): what keeps GC from dooming
 * the packs a long upload writes or deduplicates against before its record is visible.
 *
 * - **W2:** an upload still running `intervalMs` (R/2) after it began PUTs `g/pins/SESSION`, with
 *   its user, its session (which covers its own packs, `p/USER/SESSION.*`) and the packs it has
 *   deduplicated against so far, and PUTs it again every `intervalMs` while it runs. `end` deletes
 *   it. Each pin PUT is signed with the time it was first sent, on every retry, so the store
 *   refuses it if it lands more than its skew (F) later.
 * - **W3:** the record PUT is signed with the time `signRecordAt` returns, which is at most
 *   `intervalMs` after the last answered pin PUT was sent (or after the upload began, if it has
 *   none); when that is too long ago, it refreshes the pin first. A failed pin PUT fails the
 *   upload (`PinRefreshError`), which then deletes its own packs.
 *
 * Times are elapsed times on this server (`gc_clock.ts`), never compared with the store's clock.
 *
 * @example
 * ```ts ignore
 * // At the upload's begin, before its first pack PUT:
 * const pin = new UploadPin({ client, prefix, userId, session });
 * try {
 *   // ... for each chunk deduplicated against a pack of the cache:
 *   pin.addPacks([`p/${userId}/${packName}`]);
 *   pin.throwIfFailed(); // now and then: stop early once the pin is lost
 *   // ... all packs written, then:
 *   const signedAt = await pin.signRecordAt();
 *   await client.put(recordKey, body, { signedAt });
 * } finally {
 *   await pin.end(); // after the record PUT, or when the upload is dropped
 * }
 * ```
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { elapsedMs, type GcClock, type Instant, instantOf, systemClock } from "./gc_clock.ts";
import { encodePin, type GcBucket, pinKey } from "./gc_objects.ts";

/** One upload's pin. */
export interface UploadPinOptions {
  /** The bucket (an `S3Client`). */
  client: GcBucket;
  /** The store's key prefix. */
  prefix: string;
  /** Whose upload. */
  userId: number;
  /** The upload's session, 16 hex digits: its packs are `p/USER/SESSION.*`. */
  session: string;
  /** R/2: how long an upload runs unpinned, and between pin PUTs. @default 300000 */
  intervalMs?: number;
  /** The clocks and sleep. @default systemClock */
  clock?: GcClock;
  /** Told of a failed DELETE of the pin at the end (it goes stale, and GC removes it). */
  onError?: (error: unknown) => void;
}

/** A pin PUT failed or was answered too late: the upload must fail and drop its packs. */
export class PinRefreshError extends BackupError {}

/** Pin PUTs `signRecordAt` sends in a row, each answered too late, before it gives up. */
const MAX_REFRESHES = 3;

/** An upload's pin; create it when the upload begins. See the module comment. */
export class UploadPin {
  readonly #client: GcBucket;
  readonly #key: string;
  readonly #userId: number;
  readonly #session: string;
  readonly #intervalMs: number;
  readonly #clock: GcClock;
  readonly #onError: (error: unknown) => void;
  readonly #begin: Instant;
  readonly #packs = new Set<string>();
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  #lastSent?: Instant;
  #lastAnswered?: Instant;
  #inFlight?: Promise<void>;
  #failed?: PinRefreshError;

  /** Starts the upload's clock; the first pin PUT comes `intervalMs` later, if still running. */
  constructor(options: UploadPinOptions) {
    this.#client = options.client;
    this.#key = pinKey(options.prefix, options.session);
    this.#userId = options.userId;
    this.#session = options.session;
    this.#intervalMs = options.intervalMs ?? 300_000;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#begin = instantOf(this.#clock);
    this.#loop = this.#refreshLoop();
  }

  /** The pin's key. */
  get key(): string {
    return this.#key;
  }

  /** Packs (keys relative to the prefix, `p/USER/NAME`) the upload has deduplicated against. */
  addPacks(packs: Iterable<string>): void {
    for (const pack of packs) this.#packs.add(pack);
  }

  /**
   * Call now and then while the upload runs, to stop early once the pin is lost.
   * @throws {PinRefreshError} once a pin PUT has failed.
   */
  throwIfFailed(): void {
    if (this.#failed) throw this.#failed;
  }

  /**
   * The time to sign the record PUT with (ms since the epoch, this server's wall clock): W3. Waits
   * for a pin PUT first when the last answered one was sent more than `intervalMs` ago.
   *
   * @throws {PinRefreshError} if a pin PUT failed, or kept being answered too late.
   */
  async signRecordAt(): Promise<number> {
    for (let refreshes = 0;; refreshes++) {
      this.throwIfFailed();
      if (elapsedMs(this.#clock, this.#lastAnswered ?? this.#begin) <= this.#intervalMs) {
        return this.#clock.now();
      }
      if (refreshes === MAX_REFRESHES) {
        throw new PinRefreshError(
          `pin ${this.#key}: ${MAX_REFRESHES} PUTs in a row answered more than ${this.#intervalMs} ms after they were sent`,
        );
      }
      await this.#refresh();
    }
  }

  /**
   * Stops the refreshes and deletes the pin if one was ever sent (even a failed PUT may have
   * landed). Never throws: a pin left behind only protects its packs until it is stale.
   */
  async end(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#inFlight?.catch(() => {});
    if (this.#lastSent) await this.#client.delete(this.#key).catch(this.#onError);
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted && !this.#failed) {
      const wait = this.#intervalMs - elapsedMs(this.#clock, this.#lastSent ?? this.#begin);
      if (wait > 0) {
        await this.#clock.sleep(wait, signal);
        continue;
      }
      // A failure is kept in #failed, for the upload to see.
      await this.#refresh().catch(() => {});
    }
  }

  /** One pin PUT (or the one in flight), with the packs known when it is sent. */
  #refresh(): Promise<void> {
    this.#inFlight ??= (async () => {
      const sent = instantOf(this.#clock);
      this.#lastSent = sent;
      const body = encodePin({
        userId: this.#userId,
        session: this.#session,
        packs: [...this.#packs],
      });
      try {
        await this.#client.put(this.#key, body, { signedAt: sent.wallMs });
      } catch (error) {
        this.#failed ??= new PinRefreshError(`pin ${this.#key}: ${(error as Error).message}`, {
          cause: error,
        });
        throw this.#failed;
      }
      this.#lastAnswered = sent;
    })().finally(() => this.#inFlight = undefined);
    return this.#inFlight;
  }
}
