/**
 * A server's view of the tombstones (rule W1 of docs/s3_repository_plan.md §3.2): the packs some
 * GC run has doomed, which no upload may start deduplicating against.
 *
 * - The view is refreshed in the background every `refreshMs` (LIST `g/doomed/`, GET each
 *   tombstone not read yet: they are immutable; forget those gone). The packs of each newly read
 *   tombstone go to `onDoomed` first, so that every dedup cache drops them before any decision
 *   uses the new view.
 * - A dedup decision awaits `ready()`, which returns at once while the view is at most `maxAgeMs`
 *   (R/4) old, measured from when its LIST was sent, and otherwise waits for a refresh. When that
 *   refresh fails, `ready()` rejects: the upload then stores its chunks anew (a miss is safe).
 * - If the view has gone unrefreshed for more than `dropAfterMs` (G/2: the server was asleep or cut
 *   off, and may have missed a tombstone that came and went), `onStale` is told to drop every dedup
 *   cache before the next refresh is used.
 *
 * The caches must also filter what they merge later (an index object read after a tombstone may
 * still name its packs) through `isDoomed`.
 *
 * @example
 * ```ts ignore
 * const view = new DoomView({
 *   client, prefix,
 *   onDoomed: (packs) => caches.dropPacks(packs),
 *   onStale: () => caches.dropAll(),
 * });
 * view.start();
 * // ... before deduplicating a chunk against the cache:
 * await view.ready(); // rejects: store the chunk instead
 * // ... on close:
 * await view.close();
 * ```
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { elapsedMs, type GcClock, type Instant, instantOf, systemClock } from "./gc_clock.ts";
import { decodeTombstone, type GcBucket, tombstonesPrefix } from "./gc_objects.ts";

/** How a server keeps its view; durations in ms. */
export interface DoomViewOptions {
  /** The bucket (an `S3Client`). */
  client: GcBucket;
  /** The store's key prefix. */
  prefix: string;
  /** R/4: the oldest view a dedup decision may use. @default 150000 */
  maxAgeMs?: number;
  /**
   * Between background refreshes: a little less than `maxAgeMs`, so that decisions seldom wait.
   * @default 120000
   */
  refreshMs?: number;
  /** G/2: a view this old means every dedup cache is dropped. @default 1800000 */
  dropAfterMs?: number;
  /** The clocks and sleep. @default systemClock */
  clock?: GcClock;
  /** Drop these packs (keys relative to the prefix) from every dedup cache. */
  onDoomed?: (packs: readonly string[]) => void;
  /** Drop every dedup cache. */
  onStale?: () => void;
  /** Told of a failed background refresh. */
  onError?: (error: unknown) => void;
}

/** The view could not be brought up to date: no dedup decision may be made now. */
export class DoomViewStaleError extends BackupError {}

/** Refreshes `ready` runs in a row, each already too old when it ends, before it gives up. */
const MAX_REFRESHES = 3;
/** Tombstones read at once. */
const GETS_IN_FLIGHT = 8;

/** See the module comment. */
export class DoomView {
  readonly #client: GcBucket;
  readonly #prefix: string;
  readonly #maxAgeMs: number;
  readonly #refreshMs: number;
  readonly #dropAfterMs: number;
  readonly #clock: GcClock;
  readonly #onDoomed: Array<(packs: readonly string[]) => void>;
  readonly #onStale: () => void;
  readonly #onError: (error: unknown) => void;
  readonly #stop = new AbortController();
  /** Tombstone key → its packs. */
  readonly #tombstones = new Map<string, string[]>();
  #doomed = new Set<string>();
  #loop?: Promise<void>;
  #inFlight?: Promise<void>;
  /** When the LIST of the last successful refresh was sent. */
  #viewAt?: Instant;
  /** Set once the caches were dropped for the current gap, until a refresh succeeds. */
  #droppedForGap = false;
  /** Refreshes installed so far. */
  #generation = 0;

  /** Builds the view; nothing is read before `start` or `ready`. */
  constructor(options: DoomViewOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#maxAgeMs = options.maxAgeMs ?? 150_000;
    this.#refreshMs = options.refreshMs ?? 120_000;
    this.#dropAfterMs = options.dropAfterMs ?? 1_800_000;
    this.#clock = options.clock ?? systemClock;
    this.#onDoomed = options.onDoomed ? [options.onDoomed] : [];
    this.#onStale = options.onStale ?? (() => {});
    this.#onError = options.onError ?? (() => {});
  }

  /** Starts the background refreshes (the first one now). */
  start(): void {
    this.#loop ??= this.#refreshLoop();
  }

  /** Stops the background refreshes. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#inFlight?.catch(() => {});
  }

  /** Tells `listener` too of the packs of each tombstone read from now on, as `onDoomed`. */
  addDoomedListener(listener: (packs: readonly string[]) => void): void {
    this.#onDoomed.push(listener);
  }

  /** Whether `pack` (a key relative to the prefix) is in a tombstone of the view. */
  isDoomed(pack: string): boolean {
    return this.#doomed.has(pack);
  }

  /** The packs of the view's tombstones. */
  get doomed(): ReadonlySet<string> {
    return this.#doomed;
  }

  /**
   * How many refreshes were installed: a list of packs begun while it was N was made after the
   * LIST of the view installed now only while it is still N (`pack_lists.ts`).
   */
  get generation(): number {
    return this.#generation;
  }

  /** How old the view is (Infinity before the first refresh). */
  get ageMs(): number {
    return this.#viewAt ? elapsedMs(this.#clock, this.#viewAt) : Infinity;
  }

  /**
   * Whether a dedup decision may use the view now (`ready` would return at once): for checks that
   * cannot wait, such as a chunk writer's synchronous `holds`, which then counts a miss.
   */
  get fresh(): boolean {
    return this.ageMs <= this.#maxAgeMs;
  }

  /**
   * Resolves once the view is at most `maxAgeMs` old, refreshing it if needed: await it before
   * each dedup decision.
   *
   * @throws {DoomViewStaleError} if it cannot be brought up to date (the cause says why).
   */
  async ready(): Promise<void> {
    for (let refreshes = 0;; refreshes++) {
      if (this.fresh) return;
      if (refreshes === MAX_REFRESHES) {
        throw new DoomViewStaleError(
          `the tombstone view is ${Math.round(this.ageMs)} ms old after ${refreshes} refreshes`,
        );
      }
      try {
        await this.refresh();
      } catch (error) {
        throw new DoomViewStaleError(`the tombstone view could not be refreshed: ${error}`, {
          cause: error,
        });
      }
    }
  }

  /** One refresh (or the one in flight). @throws what the store or a tombstone's body threw. */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#read().finally(() => this.#inFlight = undefined);
    return this.#inFlight;
  }

  async #read(): Promise<void> {
    const sent = instantOf(this.#clock);
    if (!this.#droppedForGap && this.ageMs > this.#dropAfterMs && this.#viewAt) {
      // Before this refresh is used: a tombstone written and deleted during the gap was missed.
      this.#droppedForGap = true;
      this.#onStale();
    }
    const listed = new Set<string>();
    for await (const page of this.#client.list(tombstonesPrefix(this.#prefix))) {
      for (const { key } of page) listed.add(key);
    }
    const unread = [...listed].filter((key) => !this.#tombstones.has(key));
    const read = new Map<string, string[]>();
    for (let i = 0; i < unread.length; i += GETS_IN_FLIGHT) {
      await Promise.all(
        unread.slice(i, i + GETS_IN_FLIGHT).map(async (key) => {
          const answer = await this.#client.get(key).catch((error) => {
            // Deleted since the LIST (step 7 of a GC run): nothing to read.
            if ((error as { status?: number }).status === 404) return undefined;
            throw error;
          });
          if (answer) read.set(key, decodeTombstone(new Uint8Array(await answer.arrayBuffer())));
        }),
      );
    }
    for (const packs of read.values()) for (const told of this.#onDoomed) told(packs);
    for (const key of this.#tombstones.keys()) if (!listed.has(key)) this.#tombstones.delete(key);
    for (const [key, packs] of read) this.#tombstones.set(key, packs);
    this.#doomed = new Set([...this.#tombstones.values()].flat());
    this.#viewAt = sent;
    this.#generation++;
    this.#droppedForGap = false;
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.refresh().catch(this.#onError);
      await this.#clock.sleep(this.#refreshMs, signal);
    }
  }
}
