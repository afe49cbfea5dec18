import type { ByteSink, ByteSource } from "./byte_stream.ts";

/** The file calls `AdaptiveFile` makes, in both forms: on the event loop and through the pool. */
export type FileCalls = Pick<Deno.FsFile, "read" | "readSync" | "write" | "writeSync">;

/** When an `AdaptiveFile` gives up calling inline. */
export interface AdaptivePolicy {
  /** One call longer than this (ms) moves the file to the thread pool at once. */
  stallMs: number;
  /** A call longer than this (ms) counts as slow: the disk answered, not the page cache. */
  slowMs: number;
  /**
   * The file moves to the pool once its slow calls outnumber `slowAllowance` plus 1 in `slowShare`
   * of all its calls: a few slow calls are hiccups, a steady share means the disk sets the pace.
   */
  slowAllowance: number;
  /** See `slowAllowance`. */
  slowShare: number;
}

/**
 * The default policy: a page-cache call of 1 MiB takes well under `slowMs`, a disk's answer well
 * over it, and a write that waits for a background flush now and then is allowed for (the timings
 * behind these values are in docs/performance.md, second round).
 */
export const DEFAULT_POLICY: AdaptivePolicy = {
  stallMs: 50,
  slowMs: 2,
  slowAllowance: 4,
  slowShare: 16,
};

/**
 * A file read or written on the event loop while the page cache answers at memory speed, and through
 * Deno's thread pool once the disk shows up in the timings.
 *
 * Why: a 1 MiB call that the page cache serves takes a fraction of a millisecond, while the same call
 * made asynchronously hops to a pool thread and back, which cost large transfers about half their
 * rate (docs/performance.md, second round). But the event loop serves
 * every connection and must not wait for a disk: a file whose calls turn slow (see `AdaptivePolicy`)
 * is read or written through the pool from then on. The cost of a wrong guess is bounded: one stall,
 * or a few slow calls.
 */
export class AdaptiveFile implements ByteSource, ByteSink {
  readonly #file: FileCalls;
  readonly #policy: AdaptivePolicy;
  readonly #onMovedToPool: (() => void) | undefined;
  #inline = true;
  #calls = 0;
  #slowCalls = 0;

  /**
   * @param file the open file; closing it stays the caller's job
   * @param policy when to stop calling inline
   * @param onMovedToPool called once, when the file moves to the thread pool
   */
  constructor(
    file: FileCalls,
    policy: AdaptivePolicy = DEFAULT_POLICY,
    onMovedToPool?: () => void,
  ) {
    this.#file = file;
    this.#policy = policy;
    this.#onMovedToPool = onMovedToPool;
  }

  /** True while calls run on the event loop; false once the disk showed in their timings. */
  get inline(): boolean {
    return this.#inline;
  }

  /** Reads up to `buffer.length` bytes; `null` at the end of the file. */
  read(buffer: Uint8Array): Promise<number | null> {
    if (!this.#inline) return this.#file.read(buffer);
    return this.#timed(() => this.#file.readSync(buffer));
  }

  /** Writes some of `bytes`; resolves how many were taken. */
  write(bytes: Uint8Array): Promise<number> {
    if (!this.#inline) return this.#file.write(bytes);
    return this.#timed(() => this.#file.writeSync(bytes));
  }

  #timed<T>(call: () => T): Promise<T> {
    const started = performance.now();
    try {
      return Promise.resolve(call());
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#judge(performance.now() - started);
    }
  }

  #judge(ms: number): void {
    const { stallMs, slowMs, slowAllowance, slowShare } = this.#policy;
    this.#calls++;
    if (ms > slowMs) this.#slowCalls++;
    if (ms > stallMs || this.#slowCalls > slowAllowance + this.#calls / slowShare) {
      this.#inline = false;
      this.#onMovedToPool?.();
    }
  }
}
