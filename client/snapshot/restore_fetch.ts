/**
 * The gets of one batch of the restorer (`restore_files.ts`): each distinct chunk once, in the
 * order of its first use, a window of them in flight.
 *
 * @module
 */
import type { BlobId, BlobSource } from "./blobs.ts";

/** Gets of `ids` in order, at most `concurrency` fetched ahead of the one taken. */
export class OrderedFetch {
  readonly #pending: Array<{ id: BlobId; bytes: Promise<Uint8Array> }> = [];
  #started = 0;
  fetched = 0;
  bytes = 0;

  constructor(
    readonly source: BlobSource,
    readonly ids: BlobId[],
    readonly options: { concurrency: number },
  ) {
    this.#fill();
  }

  /** The next chunk's bytes, which must be `id`'s. @throws what the source throws */
  async next(id: BlobId): Promise<Uint8Array> {
    const head = this.#pending[0];
    if (head?.id !== id) throw new Error(`restorer: expected chunk ${head?.id}, not ${id}`);
    try {
      return await head.bytes;
    } finally {
      // Taken, even if it failed (the files after it take theirs). Only now is there room for one
      // more: at most `concurrency` gets in flight or held. Refilled once half is taken, not one
      // by one: the gets then leave together in one write (one syscall for many small requests,
      // and the server reads them in one go).
      this.#pending.shift();
      if (this.#pending.length <= this.options.concurrency >> 1) this.#fill();
    }
  }

  /** Waits for the gets in flight (after a failure, so that none outlives the restore). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#pending.map((p) => p.bytes));
    this.#pending.length = 0;
  }

  #fill(): void {
    while (this.#pending.length < this.options.concurrency && this.#started < this.ids.length) {
      const id = this.ids[this.#started++];
      const bytes = this.source.get(id, "data").then((raw) => {
        this.fetched++;
        this.bytes += raw.length;
        return raw;
      });
      // Handled when taken; until then a rejection must not count as unhandled.
      bytes.catch(() => {});
      this.#pending.push({ id, bytes });
    }
  }
}
