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
 * are at most `maxBytes` (`submit` waits for room). The workers start at the first file given,
 * so a restore with no small file in a folder it made starts none.
 *
 * @module
 */
import type { WriteAnswer, WriteRequest } from "./restore_file_worker.ts";
import type { WholeFile } from "./restore_whole_file.ts";

/** Files in one message to a worker. */
const GROUP_FILES = 16;
/** Bytes in one message to a worker. */
const GROUP_BYTES = 512 * 1024;

/** How a submitted file ended: `undefined` if written, else why not. */
export type WholeFileOutcome = { message: string; code?: string } | undefined;

/** Writes small files in workers; see the module comment. */
export class FilePool {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<
    number,
    { resolve(answer: WriteAnswer): void; bytes: number; files: number; worker: Worker }
  >();
  readonly #outcomes: Array<Promise<WholeFileOutcome>> = [];
  /** Answers not yet received. */
  readonly #answers = new Set<Promise<WriteAnswer>>();
  #group: WholeFile[] = [];
  #groupBytes = 0;
  #seq = 0;
  #posted = 0;
  #room?: PromiseWithResolvers<void>;

  /**
   * @param workers threads to write on
   * @param maxBytes bytes posted and not yet written, at most (one file may pass it alone)
   */
  constructor(readonly workers: number, readonly maxBytes: number) {}

  /** Queues `file`; its outcome comes from the next `drain`. Waits while the workers are behind. */
  async submit(file: WholeFile): Promise<void> {
    const bytes = file.entry.size;
    while (this.#posted > 0 && this.#posted + this.#groupBytes + bytes > this.maxBytes) {
      this.#post();
      this.#room = Promise.withResolvers();
      await this.#room.promise;
    }
    this.#group.push(file);
    this.#groupBytes += bytes;
    if (this.#group.length >= GROUP_FILES || this.#groupBytes >= GROUP_BYTES) this.#post();
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
    const answer = new Promise<WriteAnswer>((resolve) =>
      this.#waiting.set(seq, { resolve, bytes, files: files.length, worker })
    );
    this.#answers.add(answer);
    void answer.then(() => this.#answers.delete(answer));
    this.#posted += bytes;
    worker.postMessage({ seq, files } satisfies WriteRequest);
    files.forEach((_, i) => this.#outcomes.push(answer.then((a) => a.failures[i])));
  }

  #worker(seq: number): Worker {
    if (this.#workers.length < this.workers) {
      const worker = new Worker(new URL("./restore_file_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (event: MessageEvent<WriteAnswer>) => this.#answered(event.data);
      worker.onerror = (event) => {
        // A worker that died (it could not start, say) fails what it held.
        event.preventDefault();
        const failure = { message: `a file worker failed: ${event.message}` };
        for (const [seq, waiting] of this.#waiting) {
          if (waiting.worker !== worker) continue;
          this.#answered({ seq, failures: new Array(waiting.files).fill(failure) });
        }
      };
      this.#workers.push(worker);
    }
    return this.#workers[seq % this.#workers.length];
  }

  #answered(answer: WriteAnswer): void {
    const waiting = this.#waiting.get(answer.seq);
    if (!waiting) return;
    this.#waiting.delete(answer.seq);
    this.#posted -= waiting.bytes;
    waiting.resolve(answer);
    this.#room?.resolve();
    this.#room = undefined;
  }
}
