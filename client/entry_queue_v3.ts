/**
 * The entries of a list answer between the reader loop and whoever iterates them: at most
 * `capacity` held (the reader waits for the consumer beyond that), so a consumer slower than the
 * server holds a bounded number of entries, never the whole list. A consumer that stops early
 * makes the rest be read and dropped: the connection stays in step for the requests after it.
 *
 * @module
 */
import type { SnapshotEntry } from "../protocol/v3/responses.ts";

/** Where a 235's entries go as they arrive. */
export interface EntrySink {
  /** Takes one entry; a promise makes the reader wait for the consumer. */
  push(entry: SnapshotEntry): void | Promise<void>;
  /** The end mark came. */
  end(): void;
  /** The list cannot be finished. */
  fail(error: unknown): void;
}

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { EntryQueue } from "./entry_queue_v3.ts";
 * import assert from "node:assert/strict";
 * const queue = new EntryQueue(2);
 * queue.push({ id: new Uint8Array(32), storedMs: 1, record: new Uint8Array(1) });
 * queue.end();
 * const got: number[] = [];
 * for await (const entry of queue) got.push(entry.storedMs);
 * assert.deepEqual(got, [1]);
 * ```
 */
export class EntryQueue<T extends SnapshotEntry> implements AsyncIterable<T>, EntrySink {
  readonly #capacity: number;
  #items: T[] = [];
  #ended = false;
  #dropping = false;
  #error: { error: unknown } | undefined;
  /** The consumer waiting for an item or the end. */
  #wakeConsumer: (() => void) | undefined;
  /** The producer waiting for room. */
  #wakeProducer: (() => void) | undefined;

  /** A queue holding at most `capacity` items. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Adds an item; resolves once there is room for the next (the consumer took some). */
  push(item: T): void | Promise<void> {
    if (this.#dropping) return;
    this.#items.push(item);
    this.#wake();
    if (this.#items.length < this.#capacity) return;
    return new Promise((resolve) => this.#wakeProducer = resolve);
  }

  /** The list ended. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** The list cannot be finished: the consumer gets `error` after the items already in. */
  fail(error: unknown): void {
    this.#error ??= { error };
    this.#wake();
    this.#release();
  }

  /** The items in order, up to the end (or the failure); stopping early drops the rest. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.#items.length > 0) {
          const item = this.#items.shift()!;
          this.#release();
          yield item;
          continue;
        }
        if (this.#error) throw this.#error.error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
      }
    } finally {
      // Stopped early: what is left is read and dropped, and the reader is never kept waiting.
      this.#dropping = true;
      this.#items = [];
      this.#release();
    }
  }

  #wake(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    wake?.();
  }

  #release(): void {
    const wake = this.#wakeProducer;
    this.#wakeProducer = undefined;
    wake?.();
  }
}
