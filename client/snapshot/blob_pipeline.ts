/**
 * The send side of a backup run: blobs (chunks and trees) go in as they are made; the pipeline
 * asks the sink which ids it lacks in batches, puts only those, and never holds more than a window
 * of bytes. Nothing waits for a round trip per blob: up to `missingInFlight` Missing calls and
 * `putsInFlight` puts are out at once, and a batch is sent as soon as a call slot is free, so
 * batches grow with the latency of the link (as Nagle's rule) instead of by a timer.
 *
 * Each id is put at most once per run: an id is "pending" from its `add` until the sink has it,
 * and a second `add` of a pending id is dropped; ids the sink has are remembered in a set capped
 * at `maxKnownIds` (oldest forgotten first). A forgotten id seen again costs one more Missing
 * question, never a second put (the sink answers that it has it).
 *
 * @module
 */
import type { BlobId, BlobSink, OutgoingBlob } from "./blobs.ts";

/** Raw bytes held by the pipeline at most (read and not yet stored or known present). */
export const DEFAULT_WINDOW_BYTES = 64 * 1024 * 1024;
/** Ids per Missing call at most (the protocol allows 8192). */
export const DEFAULT_MISSING_BATCH = 1024;
/** Missing calls out at once at most. */
export const DEFAULT_MISSING_IN_FLIGHT = 4;
/** Puts out at once at most (the byte window bounds their bytes). */
export const DEFAULT_PUTS_IN_FLIGHT = 256;
/**
 * Ids the run remembers the sink has (about 110 bytes each in V8: 262,144 ids ≈ 30 MB). Past it
 * the oldest is forgotten; see the module comment.
 */
export const DEFAULT_MAX_KNOWN_IDS = 262_144;

/** What `add` returns when it took the blob at once. */
const DONE: Promise<void> = Promise.resolve();

/** Limits of a {@linkcode BlobPipeline}; each defaults to the constant of the same name. */
export interface BlobPipelineOptions {
  windowBytes?: number;
  missingBatch?: number;
  missingInFlight?: number;
  putsInFlight?: number;
  maxKnownIds?: number;
  /** Told the raw bytes of each blob once the sink stored it (progress). */
  onSent?: (blob: OutgoingBlob) => void;
}

/** What crossed, for the summary and for tests. */
export interface PipelineStats {
  dataPuts: number;
  dataBytesPut: number;
  treePuts: number;
  treeBytesPut: number;
  /** Blobs dropped because the run already had them pending or known present. */
  deduplicated: number;
  idsAsked: number;
  missingCalls: number;
  /** The most raw bytes held at once (bounded by the window plus one blob). */
  peakHeldBytes: number;
  /** The most sink calls out at once. */
  peakCallsInFlight: number;
}

/** See the module comment. */
export class BlobPipeline {
  readonly stats: PipelineStats = {
    dataPuts: 0,
    dataBytesPut: 0,
    treePuts: 0,
    treeBytesPut: 0,
    deduplicated: 0,
    idsAsked: 0,
    missingCalls: 0,
    peakHeldBytes: 0,
    peakCallsInFlight: 0,
  };
  readonly #sink: BlobSink;
  readonly #window: number;
  readonly #batch: number;
  readonly #maxMissing: number;
  readonly #maxPuts: number;
  readonly #maxKnown: number;
  readonly #onSent?: (blob: OutgoingBlob) => void;
  readonly #known = new Set<BlobId>();
  readonly #pending = new Set<BlobId>();
  /** How to let go of a pending blob's bytes (an id is pending once at most). */
  readonly #releases = new Map<BlobId, () => void>();
  #asking: OutgoingBlob[] = [];
  readonly #putQueue: OutgoingBlob[] = [];
  #held = 0;
  #missingOut = 0;
  #putsOut = 0;
  #failure?: { error: unknown };
  #wake: (() => void)[] = [];

  /** @param sink where the blobs go */
  constructor(sink: BlobSink, options: BlobPipelineOptions = {}) {
    this.#sink = sink;
    this.#window = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.#batch = Math.min(options.missingBatch ?? DEFAULT_MISSING_BATCH, 8192);
    this.#maxMissing = options.missingInFlight ?? DEFAULT_MISSING_IN_FLIGHT;
    this.#maxPuts = options.putsInFlight ?? DEFAULT_PUTS_IN_FLIGHT;
    this.#maxKnown = options.maxKnownIds ?? DEFAULT_MAX_KNOWN_IDS;
    this.#onSent = options.onSent;
  }

  /** Raw bytes held now. */
  get heldBytes(): number {
    return this.#held;
  }

  /**
   * Throws the sink's first failure, if one happened: the walk checks this between paths so that
   * a broken connection ends the run at once, not after the whole tree is walked.
   */
  check(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * Hands `blob` over. Resolves once the window has room for it (not once it is stored): a
   * caller that awaits this is held back while the sink is behind. `release` is called once the
   * pipeline and the sink are done with `blob.raw` (stored, known present, or dropped as a
   * duplicate), so that its memory may be reused; never after a failure of the sink (a write may
   * still be reading the bytes).
   *
   * @throws the sink's first failure, once one happened.
   */
  add(blob: OutgoingBlob, release?: () => void): Promise<void> {
    // Without `async`: a window with room takes the blob at once, with no promise of its own.
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#room(blob, release)) return DONE;
    return this.#addLater(blob, release);
  }

  /** `add` once the window had no room: waits for some, as the sink stores what it holds. */
  async #addLater(blob: OutgoingBlob, release?: () => void): Promise<void> {
    while (true) {
      await new Promise<void>((resolve) => this.#wake.push(resolve));
      if (this.#failure) throw this.#failure.error;
      if (this.#room(blob, release)) return;
    }
  }

  /**
   * Takes `blob` if the window has room for it (or drops it as a duplicate); false if it must
   * wait for room.
   */
  #room(blob: OutgoingBlob, release?: () => void): boolean {
    if (this.#known.has(blob.id) || this.#pending.has(blob.id)) {
      this.stats.deduplicated++;
      release?.();
      return true;
    }
    // One blob larger than the window still goes, alone.
    if (this.#held !== 0 && this.#held + blob.raw.length > this.#window) return false;
    this.#pending.add(blob.id);
    if (release) this.#releases.set(blob.id, release);
    this.#held += blob.raw.length;
    this.stats.peakHeldBytes = Math.max(this.stats.peakHeldBytes, this.#held);
    this.#asking.push(blob);
    this.#pump();
    return true;
  }

  /**
   * Resolves at the sink's next answer (a blob stored, a batch of ids answered) or failure: where
   * the walk's turns of the event loop end (`walk_turns.ts`).
   */
  nextAnswer(): Promise<void> {
    return new Promise<void>((resolve) => this.#wake.push(resolve));
  }

  /**
   * Resolves once every blob added is stored or known present.
   *
   * @throws the sink's first failure.
   */
  async drain(): Promise<void> {
    while (this.#held > 0 && !this.#failure) {
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
    if (this.#failure) throw this.#failure.error;
  }

  /** Starts what the limits allow: Missing calls for waiting blobs, puts for missing ones. */
  #pump(): void {
    if (this.#failure) return;
    while (this.#putQueue.length > 0 && this.#putsOut < this.#maxPuts) {
      this.#put(this.#putQueue.shift()!);
    }
    while (this.#asking.length > 0 && this.#missingOut < this.#maxMissing) {
      const batch = this.#asking.length <= this.#batch
        ? this.#asking
        : this.#asking.slice(0, this.#batch);
      this.#asking = batch === this.#asking ? [] : this.#asking.slice(this.#batch);
      this.#ask(batch);
    }
  }

  #ask(batch: OutgoingBlob[]): void {
    this.#missingOut++;
    this.stats.missingCalls++;
    this.stats.idsAsked += batch.length;
    this.#notePeak();
    this.#sink.missing(batch.map((blob) => blob.id)).then((answers) => {
      this.#missingOut--;
      if (answers.length !== batch.length) {
        throw new Error(`asked about ${batch.length} blobs, told about ${answers.length}`);
      }
      batch.forEach((blob, i) => {
        if (answers[i]) this.#putQueue.push(blob);
        else this.#stored(blob);
      });
      this.#pump();
      this.#wakeAll(); // `nextAnswer`'s waiters, also when every id was missing
    }).catch((error) => this.#fail(error));
  }

  #put(blob: OutgoingBlob): void {
    this.#putsOut++;
    this.#notePeak();
    this.#sink.put(blob).then(() => {
      this.#putsOut--;
      if (blob.kind === "data") {
        this.stats.dataPuts++;
        this.stats.dataBytesPut += blob.raw.length;
      } else {
        this.stats.treePuts++;
        this.stats.treeBytesPut += blob.raw.length;
      }
      this.#onSent?.(blob);
      this.#stored(blob);
      this.#pump();
    }).catch((error) => this.#fail(error));
  }

  /** The sink has `blob`: remember it (capped), free its bytes, wake whoever waits for room. */
  #stored(blob: OutgoingBlob): void {
    this.#pending.delete(blob.id);
    // The sink resolved its put, so the bytes were written whole (the server answers a put only
    // after reading its frame): they may be reused.
    this.#releases.get(blob.id)?.();
    this.#releases.delete(blob.id);
    this.#known.add(blob.id);
    if (this.#known.size > this.#maxKnown) {
      this.#known.delete(this.#known.values().next().value!);
    }
    this.#held -= blob.raw.length;
    this.#wakeAll();
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#releases.clear(); // never reused: a write may still be reading them
    this.#wakeAll();
  }

  #wakeAll(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const resolve of waiting) resolve();
  }

  #notePeak(): void {
    this.stats.peakCallsInFlight = Math.max(
      this.stats.peakCallsInFlight,
      this.#missingOut + this.#putsOut,
    );
  }
}
