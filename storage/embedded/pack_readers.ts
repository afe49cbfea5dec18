/**
 * Packs kept open for one connection's blob reads (a restore reads thousands of blobs from a few
 * packs): each pack is opened once, with the object store's checks (`ObjectStore.openReader`: a
 * link or special file refused), and its blobs are read through the handle, not by a path lookup,
 * an open and a close per blob. Pack names are random and a pack is never rewritten, so a handle
 * kept stays right; a pack that garbage collection removed is read no more (the index no longer
 * names it) and its handle goes at the next eviction or the close. A store without `openReader`,
 * or a blob too large to read without a wait, is read with `get`.
 *
 * @module
 */
import type { ObjectReader, ObjectStore } from "../../objects/object_store.ts";

/** Packs held open at most by one connection's reader: the least recently read goes first. */
const MAX_OPEN_PACKS = 16;
/**
 * Largest read through a kept handle: it is synchronous (a page-cache copy), so a larger one is
 * read with `get` instead, leaving the event loop free meanwhile.
 */
const MAX_SYNC_READ_BYTES = 1024 * 1024;

/** See the module comment. */
export class PackReaders {
  readonly #store: ObjectStore;
  /** By pack name, least recently read first. */
  readonly #open = new Map<string, Promise<ObjectReader>>();
  #closed = false;

  /** @param store where the packs are */
  constructor(store: ObjectStore) {
    this.#store = store;
  }

  /**
   * The bytes of a pack from `offset`, `length` at most (fewer if the pack ends first).
   *
   * @throws what `ObjectStore.get` throws.
   */
  async read(pack: string, offset: number, length: number): Promise<Uint8Array> {
    if (this.#closed || !this.#store.openReader || length > MAX_SYNC_READ_BYTES) {
      return await this.#store.get(pack, { offset, length });
    }
    const reader = await this.#reader(pack);
    const bytes = new Uint8Array(length);
    try {
      return bytes.subarray(0, reader.readSync(offset, bytes));
    } catch {
      // Closed by the reader's close while its open was awaited (or the handle failed): the plain
      // way reads it, or throws what is wrong with the pack.
      return await this.#store.get(pack, { offset, length });
    }
  }

  /** Closes every pack held; reads after it go through `get`. */
  close(): void {
    this.#closed = true;
    for (const opened of this.#open.values()) closeWhenOpen(opened);
    this.#open.clear();
  }

  #reader(pack: string): Promise<ObjectReader> {
    let opened = this.#open.get(pack);
    if (opened) {
      this.#open.delete(pack); // to the end: read most recently
    } else {
      if (this.#open.size >= MAX_OPEN_PACKS) {
        const [oldest, reader] = this.#open.entries().next().value!;
        this.#open.delete(oldest);
        closeWhenOpen(reader);
      }
      opened = this.#store.openReader!(pack);
      // A failed open is not kept: the next read tries again (or the blob moved: its caller asks
      // the index again).
      opened.catch(() => {
        if (this.#open.get(pack) === opened) this.#open.delete(pack);
      });
    }
    this.#open.set(pack, opened);
    return opened;
  }
}

function closeWhenOpen(opened: Promise<ObjectReader>): void {
  opened.then((reader) => reader.close(), () => {});
}
