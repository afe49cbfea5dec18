/**
 * The send side of a pipelined connection: frames go out in the order they were queued, one write
 * at a time, and small frames queued while a write is under way leave together in one write (one
 * TCP segment or TLS record for many small requests, not one each). Large parts (a blob's bytes)
 * are written as they are, never copied.
 *
 * @module
 */
import { writeAll } from "../io/byte_stream.ts";

/**
 * Parts at least this large are written from the caller's buffer, not copied into the batch.
 * Copying a small file's blob costs less than its own write call, so blobs below a chunker's
 * minimum go with their neighbours.
 */
const DIRECT_PART_BYTES = 128 * 1024;
/** Bytes of small parts gathered into one write at most. */
const BATCH_BYTES = 256 * 1024;

/** Where bytes go and what a writer reports. */
export interface FrameWriterOptions {
  /** Told after every completed write (the connection is moving). */
  onProgress?: () => void;
  /** Told the first failure of a write; nothing more is written after it. */
  onError: (error: unknown) => void;
}

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer_v3.ts";
 * import assert from "node:assert/strict";
 * const written: number[] = [];
 * const sink = { write: (bytes: Uint8Array) => (written.push(...bytes), Promise.resolve(bytes.length)) };
 * const writer = new FrameWriter(sink, { onError: (error) => { throw error; } });
 * writer.enqueue([new Uint8Array([1, 2])]);
 * writer.enqueue([new Uint8Array([3])]);
 * await writer.drained();
 * assert.deepEqual(written, [1, 2, 3]);
 * ```
 */
export class FrameWriter {
  readonly #sink: { write(bytes: Uint8Array): Promise<number> };
  readonly #options: FrameWriterOptions;
  readonly #batch = new Uint8Array(BATCH_BYTES);
  #queue: Uint8Array[] = [];
  #running: Promise<void> | undefined;
  #failed = false;

  /**
   * A writer to `sink`.
   * @param sink the connection
   * @param options progress and failure callbacks
   */
  constructor(
    sink: { write(bytes: Uint8Array): Promise<number> },
    options: FrameWriterOptions,
  ) {
    this.#sink = sink;
    this.#options = options;
  }

  /** Queues one frame's parts; they are written after everything queued before. */
  enqueue(parts: readonly Uint8Array[]): void {
    if (this.#failed) return;
    for (const part of parts) if (part.length > 0) this.#queue.push(part);
    // Cleared by `#run` itself as its loop ends (it awaits a write first), not by a `.finally` some
    // microtasks later: a frame queued in between was left until the next one (a restore hung).
    if (this.#running === undefined && this.#queue.length > 0) this.#running = this.#run();
  }

  /** Resolves once everything queued so far is written (or writing failed). */
  async drained(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const queue = this.#queue;
        this.#queue = [];
        let at = 0;
        while (at < queue.length) {
          if (queue[at].length >= DIRECT_PART_BYTES) {
            await writeAll(this.#sink, queue[at++]);
          } else {
            let filled = 0;
            while (
              at < queue.length && queue[at].length < DIRECT_PART_BYTES &&
              filled + queue[at].length <= BATCH_BYTES
            ) {
              this.#batch.set(queue[at++], filled);
              filled += queue[at - 1].length;
            }
            await writeAll(this.#sink, this.#batch.subarray(0, filled));
          }
          this.#options.onProgress?.();
        }
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#options.onError(error);
    } finally {
      this.#running = undefined;
    }
  }
}
