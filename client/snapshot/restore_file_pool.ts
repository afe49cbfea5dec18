/**
 * File workers for the restorer: small files written whole (`writeWholeFile`) on another thread
 * while the main thread fetches, checks and queues the next ones. Making a file is the kernel's
 * work (a directory entry, an inode, the journal) and most of a restore of small files; here it
 * overlaps the main thread's (the wire, SHA-256, the walk). One worker is the default
 * (`fileWorkers`): with two, files of one folder contend for its lock and a loaded machine has no
 * core to spare for the third thread (docs/snapshots_plan.md §4 has the measurements).
 *
 * Files go in groups (one message per `GROUP_FILES` files or `GROUP_BYTES` bytes: a message costs
 * more than a small file's write) to one worker after the other; bytes posted and not yet written
 * are at most `maxBytes`. A file that would pass that is written by the calling thread itself, at
 * once, instead of waiting for room: the kernel's file creation (most of a worker's time) then runs
 * on two threads, the workers' files `maxBytes` behind this thread's, mostly in another folder (a
 * folder's lock is held through a creation). Chunks that are their whole buffer move to the worker
 * (`transfer`) instead of being copied twice. The workers start at the first file given, or
 * earlier by `start` (the restorer's counting pass calls it at the first small file it meets).
 *
 * @module
 */
import type { WriteAnswer, WriteRequest } from "./restore_file_worker.ts";
import {
  type KeptModeBits,
  type WholeFile,
  type WholeFileOutcome,
  writeOutcome,
} from "./restore_whole_file.ts";

export type { WholeFileOutcome } from "./restore_whole_file.ts";

/** Files in one message to a worker. */
const GROUP_FILES = 16;
/** Bytes in one message to a worker. */
const GROUP_BYTES = 512 * 1024;

/** A `FilePool`'s settings. */
export interface FilePoolOptions {
  /** Threads to write on. */
  workers: number;
  /** Bytes posted and not yet written, at most (one file may pass it alone). */
  maxBytes: number;
  /**
   * The chunks' buffers are the pool's to give away (no one else holds them): each chunk that is
   * its whole buffer moves to the worker instead of being copied there (and again out of the
   * message). Default false: a caller that keeps the bytes must not find them emptied.
   */
  transfer?: boolean;
  /** The workers' module. @default restore_file_worker.ts beside this one */
  workerUrl?: string;
  /** Told when a worker fails (its files then fail, or are written here). */
  onWorkerError?: (message: string) => void;
}

/** Writes small files in workers; see the module comment. */
export class FilePool {
  readonly #workers: Worker[] = [];
  /** Workers that failed: none is posted to again. */
  readonly #dead = new Set<Worker>();
  readonly #waiting = new Map<
    number,
    { resolve(answer: WriteAnswer): void; files: number; worker: Worker }
  >();
  readonly #outcomes: Array<Promise<WholeFileOutcome>> = [];
  /** Answers not yet received. */
  readonly #answers = new Set<Promise<WriteAnswer>>();
  #group: WholeFile[] = [];
  #groupBytes = 0;
  #seq = 0;
  /** Bytes of files ever posted; of them the workers count those done in `#done`. */
  #posted = 0;
  /**
   * Bytes of files the workers are done with, counted by them as they go: read without waiting
   * for their answers, which arrive only when this thread's event loop turns (it may write many
   * files here, chunks already at hand, before it does).
   */
  readonly #done = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));

  readonly workers: number;
  readonly maxBytes: number;
  readonly #transfer: boolean;
  readonly #workerUrl: string;
  readonly #onWorkerError: ((message: string) => void) | undefined;
  /** For the files written here. */
  readonly #modeBits: KeptModeBits = { kept: 0 };

  /** @param options see `FilePoolOptions` */
  constructor(options: FilePoolOptions) {
    this.workers = options.workers;
    this.maxBytes = options.maxBytes;
    this.#transfer = options.transfer ?? false;
    this.#workerUrl = options.workerUrl ??
      new URL("./restore_file_worker.ts", import.meta.url).href;
    this.#onWorkerError = options.onWorkerError;
  }

  /**
   * Queues `file`; its outcome comes from the next `drain`. While the workers are `maxBytes`
   * behind, the file is written here instead, at once (see the module comment).
   */
  submit(file: WholeFile): void {
    const bytes = file.entry.size;
    const behind = this.#posted - Number(Atomics.load(this.#done, 0));
    if (behind > 0 && behind + this.#groupBytes + bytes > this.maxBytes) {
      // After the files queued before it: outcomes stay in order.
      this.#post();
      this.#outcomes.push(Promise.resolve(writeOutcome(file, this.#modeBits)));
      return;
    }
    this.#group.push(file);
    this.#groupBytes += bytes;
    if (this.#group.length >= GROUP_FILES || this.#groupBytes >= GROUP_BYTES) this.#post();
  }

  /**
   * Starts the workers now rather than at the first file (a worker takes tens of milliseconds to
   * load its modules: the restorer starts them while it reads the trees, not while files wait).
   */
  start(): void {
    while (this.#workers.length < this.workers) this.#worker(this.#workers.length);
  }

  /** The outcomes of every file submitted since the last drain, in order, once all are written. */
  async drain(): Promise<WholeFileOutcome[]> {
    this.#post();
    const outcomes = await Promise.all(this.#outcomes.splice(0));
    return outcomes;
  }

  /**
   * Waits for every file posted (none is left half-written under its name: the restore may have
   * stopped without draining), drops what was not, then stops the workers.
   */
  async close(): Promise<void> {
    this.#group = [];
    this.#groupBytes = 0;
    this.#outcomes.length = 0;
    await Promise.all(this.#answers);
    for (const worker of this.#workers.splice(0)) worker.terminate();
  }

  #post(): void {
    if (this.#group.length === 0) return;
    const files = this.#group;
    const bytes = this.#groupBytes;
    this.#group = [];
    this.#groupBytes = 0;
    const seq = this.#seq++;
    const worker = this.#worker(seq);
    if (!worker) {
      // Every worker died (one that could not load its module, say): written here instead.
      for (const file of files) {
        this.#outcomes.push(Promise.resolve(writeOutcome(file, this.#modeBits)));
      }
      return;
    }
    const answer = new Promise<WriteAnswer>((resolve) =>
      this.#waiting.set(seq, { resolve, files: files.length, worker })
    );
    this.#answers.add(answer);
    void answer.then(() => this.#answers.delete(answer));
    this.#posted += bytes;
    worker.postMessage({ seq, files, done: this.#done } satisfies WriteRequest, {
      transfer: this.#movable(files),
    });
    files.forEach((_, i) => this.#outcomes.push(answer.then((a) => a.failures[i])));
  }

  /** The buffers of `files`' chunks that can move to the worker whole (see `transfer`). */
  #movable(files: WholeFile[]): ArrayBuffer[] {
    if (!this.#transfer) return [];
    const buffers: ArrayBuffer[] = [];
    for (const { chunks } of files) {
      for (const { buffer, byteOffset, byteLength } of chunks) {
        // A view of part of a buffer (or of a shared one) is copied: the rest may be another's.
        if (
          buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength &&
          !buffers.includes(buffer)
        ) buffers.push(buffer);
      }
    }
    return buffers;
  }

  /** A live worker for message `seq` (made if there are fewer than `workers`), if any is. */
  #worker(seq: number): Worker | undefined {
    if (this.#workers.length < this.workers) {
      const worker = new Worker(this.#workerUrl, { type: "module" });
      worker.onmessage = (event: MessageEvent<WriteAnswer>) => this.#answered(event.data);
      worker.onerror = (event) => {
        // A worker that died (it could not start, say) fails what it held.
        event.preventDefault();
        // Posted to no more: a worker that died between messages, or before its first (`start`
        // makes them early, while no file waits), would otherwise hold later files forever.
        this.#dead.add(worker);
        const failure = { message: `a file worker failed: ${event.message}` };
        for (const [seq, waiting] of this.#waiting) {
          if (waiting.worker !== worker) continue;
          this.#answered({ seq, failures: new Array(waiting.files).fill(failure) });
        }
        this.#onWorkerError?.(failure.message);
      };
      this.#workers.push(worker);
    }
    for (let i = 0; i < this.#workers.length; i++) {
      const worker = this.#workers[(seq + i) % this.#workers.length];
      if (!this.#dead.has(worker)) return worker;
    }
    return undefined;
  }

  #answered(answer: WriteAnswer): void {
    const waiting = this.#waiting.get(answer.seq);
    if (!waiting) return;
    this.#waiting.delete(answer.seq);
    waiting.resolve(answer);
  }
}
