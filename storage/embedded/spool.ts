/**
 * A scratch file written at one pace and read at another: a producer appends pages at the
 * server's speed while a consumer reads them at the client's, from the first page on.
 *
 * @module
 */
import { writeAll } from "../../io/byte_stream.ts";

/** Bytes read from the spool per page. */
const SPOOL_PAGE_BYTES = 256 * 1024;

/** Two handles on one unlinked scratch file: one to append, one to read. */
export interface ScratchFile {
  writer: Deno.FsFile;
  reader: Deno.FsFile;
}

/** Pages appended by `append` and `end`, read back in order by `pages`. */
export class Spool implements Disposable {
  readonly #file: ScratchFile;
  #written = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #closed = false;
  #wake: PromiseWithResolvers<void> | undefined;

  /** @param file the scratch file; the spool closes both handles */
  constructor(file: ScratchFile) {
    this.#file = file;
  }

  /** True once closed: whatever is appended now is dropped. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Appends bytes; they can be read once this resolves. Ignored once the spool is closed. */
  async append(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return;
    await writeAll(this.#file.writer, bytes);
    this.#written += bytes.length;
    this.#signal();
  }

  /** No more bytes will come: `pages` ends after the last one, or throws `error` if given. */
  end(error?: unknown): void {
    this.#ended = true;
    if (error !== undefined) this.#failure = { error };
    this.#signal();
  }

  /** Everything appended, in pages of at most 256 KiB, as it becomes readable. */
  async *pages(): AsyncGenerator<Uint8Array> {
    let read = 0;
    try {
      while (!this.#closed) {
        if (this.#failure) throw this.#failure.error;
        if (read === this.#written) {
          if (this.#ended) return;
          this.#wake = Promise.withResolvers();
          await this.#wake.promise;
          continue;
        }
        const page = new Uint8Array(Math.min(SPOOL_PAGE_BYTES, this.#written - read));
        const count = await this.#file.reader.read(page);
        if (count === null) throw new Error("the list's scratch file ended early");
        read += count;
        yield page.subarray(0, count);
      }
    } finally {
      this[Symbol.dispose]();
    }
  }

  /** Closes the file; a producer still appending stops writing. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.writer.close();
    this.#file.reader.close();
    this.#signal();
  }

  #signal(): void {
    this.#wake?.resolve();
    this.#wake = undefined;
  }
}
