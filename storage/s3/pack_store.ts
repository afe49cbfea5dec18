/**
 * The object store packs go to on S3: the bucket's `S3ObjectStore`, except that a pack being
 * written (`create`) is gathered in one buffer of its own, held from the engine's `MemoryBudget`
 * until its PUT is answered. A pack is one PUT (never a multipart upload: nothing to abort after a
 * crash), and all uploads together hold no more pack bytes than the budget: an upload whose next
 * pack finds no room waits for another's PUT to be answered.
 *
 * @module
 */
import {
  type ByteRange,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectWriter,
} from "../../objects/object_store.ts";
import { checkObjectName } from "../../objects/object_names.ts";
import type { MemoryBudget } from "./uploads.ts";

/** Packs in buffers held from a budget; see the module comment. */
export class BufferedPackStore implements ObjectStore {
  readonly #store: ObjectStore;
  readonly #budget: MemoryBudget;
  readonly #packBytes: number;
  /**
   * Buffers whose PUT succeeded, kept for the next packs while any pack is open (a new buffer per
   * pack would leave the collector gigabytes to free per upload).
   */
  #spare: Uint8Array[] = [];
  /**
   * The spares once no pack is open, held weakly: the next upload (a client's next file, a moment
   * later) takes them back unless the collector has freed them, so that an idle server keeps none
   * after its next collection. Dropping them at once cost 24 MiB of peak RSS over three uploads in
   * a row: the dropped buffers' pages stay until a collection while new ones fill
   * (docs/storage.md).
   */
  #idle: WeakRef<Uint8Array>[] = [];
  #open = 0;

  /**
   * @param store the bucket's store
   * @param budget what all uploads' buffers may hold together
   * @param packBytes the most bytes a pack takes (its target, a largest chunk, its header)
   */
  constructor(store: ObjectStore, budget: MemoryBudget, packBytes: number) {
    this.#store = store;
    this.#budget = budget;
    this.#packBytes = packBytes;
  }

  /** See {@linkcode ObjectStore.put}. */
  put(name: string, body: ObjectBody): Promise<void> {
    return this.#store.put(name, body);
  }

  /**
   * See {@linkcode ObjectStore.create}: resolves once a pack's bytes are held from the budget; the
   * bytes written are copied into one buffer, PUT at the commit, and the budget is given back once
   * the store answers (or at `abort`).
   */
  async create(name: string): Promise<ObjectWriter> {
    checkObjectName(name);
    await this.#budget.acquire(this.#packBytes);
    let held = true;
    this.#open++;
    const release = (reusable?: Uint8Array) => {
      if (!held) return;
      held = false;
      this.#budget.release(this.#packBytes);
      if (reusable?.length === this.#packBytes) this.#spare.push(reusable);
      if (--this.#open === 0) {
        const alive = this.#idle.filter((buffer) => buffer.deref() !== undefined);
        this.#idle = [...alive, ...this.#spare.map((spare) => new WeakRef(spare))];
        this.#spare = [];
      }
    };
    let buffer = this.#takeSpare() ?? new Uint8Array(this.#packBytes);
    let filled = 0;
    let ended = false;
    return {
      write: (bytes) => {
        if (ended) return Promise.reject(new Error(`${name}: the writer has ended`));
        if (filled + bytes.length > buffer.length) {
          // Past the budgeted size (a pack of many tiny chunks has a long header): rare, kept whole.
          const grown = new Uint8Array(Math.max(buffer.length * 2, filled + bytes.length));
          grown.set(buffer.subarray(0, filled));
          buffer = grown;
        }
        buffer.set(bytes, filled);
        filled += bytes.length;
        return Promise.resolve();
      },
      commit: async () => {
        if (ended) throw new Error(`${name}: the writer has ended`);
        ended = true;
        const bytes = buffer;
        buffer = new Uint8Array(0);
        try {
          await this.#store.put(name, bytes.subarray(0, filled));
        } catch (error) {
          release(); // a request that failed may still be sending: its buffer is not reused
          throw error;
        }
        release(bytes);
      },
      abort: () => {
        ended = true;
        release(buffer);
        buffer = new Uint8Array(0);
        return Promise.resolve();
      },
    };
  }

  /** A spare buffer, or one an idle moment left that the collector has not freed yet. */
  #takeSpare(): Uint8Array | undefined {
    const spare = this.#spare.pop();
    if (spare) return spare;
    while (this.#idle.length > 0) {
      const buffer = this.#idle.pop()!.deref();
      if (buffer) return buffer;
    }
    return undefined;
  }

  /** See {@linkcode ObjectStore.get}. */
  get(name: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#store.get(name, range);
  }

  /** See {@linkcode ObjectStore.stat}. */
  stat(name: string): Promise<{ size: number } | undefined> {
    return this.#store.stat(name);
  }

  /** See {@linkcode ObjectStore.list}. */
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.#store.list(prefix);
  }

  /** See {@linkcode ObjectStore.delete}. */
  delete(name: string): Promise<void> {
    return this.#store.delete(name);
  }
}
