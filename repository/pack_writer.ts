/**
 * Writes blobs into packs: blobs gather in memory until a pack reaches its target size, then the
 * pack (blobs, header, trailer: `pack_format.ts`) is put into the object store, atomically and
 * durably, while the next one fills. At most `putsInFlight` puts (2) run per writer, so a writer
 * holds at most three packs in memory: those being put and the one filling; and all writers
 * together at most their shared `MemoryBudget` (past it, a writer puts early and waits).
 *
 * @example
 * ```ts
 * import { PackWriter } from "./pack_writer.ts";
 * import { FolderStore } from "../objects/folder_store.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * const store = await FolderStore.open({ root });
 * const packs = new PackWriter(store, { targetBytes: 1024 });
 * await packs.add(new Uint8Array(32), { stored: new Uint8Array(3), compression: "none" }, 3);
 * const [pack] = await packs.finish();
 * assert.equal(pack.blobs[0].offset, 0);
 * assert.equal((await store.stat(pack.name))?.size, pack.size);
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import type { ByteSource } from "../io/byte_stream.ts";
import type { ObjectStore } from "../objects/object_store.ts";
import type { EncodedBlob } from "./blob_codec.ts";
import { encodePackTail, type PackBlob } from "./pack_format.ts";
import { MemoryBudget } from "./memory_budget.ts";

/** Default size a pack is cut at (restic's default pack size). */
export const DEFAULT_PACK_TARGET_BYTES = 16 * 1024 * 1024;
/** Puts one writer runs at once unless told otherwise. */
export const DEFAULT_PUTS_IN_FLIGHT = 2;
/** The folder of every pack in the object store. */
export const PACKS_PREFIX = "packs/";

/** A pack in the store: its name, its size, and its blobs in order. */
export interface WrittenPack {
  name: string;
  size: number;
  blobs: PackBlob[];
}

/** How a `PackWriter` cuts and names packs. */
export interface PackWriterOptions {
  /** A pack is put once its blobs reach this many bytes. @default 16 MiB */
  targetBytes?: number;
  /**
   * Memory shared with other writers: a blob's bytes are held against it from `add` until its pack
   * is put. When it is spent, a writer puts what it holds early and waits.
   */
  budget?: MemoryBudget;
  /**
   * Puts that may run at once: with two, a pack is written while the one before waits for its
   * fsync, so the disk never idles between packs. @default 2
   */
  putsInFlight?: number;
}

/** A new pack's object name: `packs/<2 hex>/<32 hex>`, 128 random bits. */
export function newPackName(): string {
  const hex = toHex(crypto.getRandomValues(new Uint8Array(16)));
  return `${PACKS_PREFIX}${hex.slice(0, 2)}/${hex}`;
}

/** Fills and puts packs for one writer (one upload, one repack); see the module comment. */
export class PackWriter {
  readonly #store: ObjectStore;
  readonly #targetBytes: number;
  readonly #budget: MemoryBudget;
  /** Bytes held against the budget: the pack filling and the one being put. */
  #held = 0;
  #parts: Uint8Array[] = [];
  #blobs: PackBlob[] = [];
  #bytes = 0;
  readonly #putting = new Set<Promise<void>>();
  readonly #maxPuts: number;
  #failure: { error: unknown } | undefined;
  /** Packs put, in the order they were cut (a slot is filled when its put resolves). */
  readonly #cutOrder: Array<WrittenPack | undefined> = [];
  #ended = false;

  /** @param store where packs go */
  constructor(store: ObjectStore, options: PackWriterOptions = {}) {
    this.#store = store;
    this.#targetBytes = options.targetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    this.#budget = options.budget ?? new MemoryBudget(Number.MAX_SAFE_INTEGER);
    this.#maxPuts = options.putsInFlight ?? DEFAULT_PUTS_IN_FLIGHT;
  }

  /** Packs put so far (their puts have resolved). */
  get written(): readonly WrittenPack[] {
    return this.#cutOrder.filter((pack) => pack !== undefined);
  }

  /**
   * Adds a blob (its stored bytes are copied: the caller may reuse them once this resolves).
   * Resolves once the writer can take more: a full pack waits for the put before it.
   *
   * @throws what a put of an earlier pack threw.
   */
  async add(id: Uint8Array, encoded: EncodedBlob, rawLength: number): Promise<void> {
    this.#throwIfFailed();
    if (this.#ended) throw new Error("the pack writer has finished");
    const size = encoded.stored.length;
    // Put what this writer holds before waiting, so that writers never wait on each other's packs.
    if (!this.#budget.fits(size) && this.#blobs.length > 0) await this.#cut();
    await this.#budget.take(size);
    this.#held += size;
    this.#blobs.push({
      id: id.slice(),
      kind: "chunk",
      compression: encoded.compression,
      storedLength: encoded.stored.length,
      rawLength,
      offset: this.#bytes,
    });
    // A raw blob is a view of the caller's buffer; a compressed one is the writer's own already.
    this.#parts.push(encoded.compression === "none" ? encoded.stored.slice() : encoded.stored);
    this.#bytes += encoded.stored.length;
    if (this.#bytes >= this.#targetBytes) await this.#cut();
  }

  /**
   * Puts the last pack and waits for every put.
   *
   * @returns every pack written, in order.
   * @throws what a put threw (the packs written stay: `abort` removes them).
   */
  async finish(): Promise<WrittenPack[]> {
    if (!this.#ended) {
      if (this.#blobs.length > 0) await this.#cut();
      this.#ended = true;
    }
    await Promise.all(this.#putting);
    this.#throwIfFailed();
    return [...this.written];
  }

  /** Stops and removes every pack it put (best effort: the start-up sweep takes what is left). */
  async abort(): Promise<void> {
    this.#ended = true;
    this.#parts = [];
    this.#blobs = [];
    await Promise.all(this.#putting);
    this.#budget.give(this.#held);
    this.#held = 0;
    await Promise.all(this.written.map((pack) => this.#store.delete(pack.name).catch(() => {})));
  }

  /** Starts the put of the pack filled so far, once fewer than `putsInFlight` run. */
  async #cut(): Promise<void> {
    while (this.#putting.size >= this.#maxPuts) await Promise.race(this.#putting);
    this.#throwIfFailed();
    const parts = this.#parts;
    const blobs = this.#blobs;
    const tail = encodePackTail(blobs);
    parts.push(tail);
    const size = this.#bytes + tail.length;
    const held = this.#bytes;
    this.#parts = [];
    this.#blobs = [];
    this.#bytes = 0;
    const name = newPackName();
    const slot = this.#cutOrder.push(undefined) - 1;
    const putting: Promise<void> = this.#store.put(name, { source: partsSource(parts), size })
      .then(
        () => void (this.#cutOrder[slot] = { name, size, blobs }),
        (error) => void (this.#failure ??= { error }),
      ).finally(() => {
        this.#held -= held;
        this.#budget.give(held);
        this.#putting.delete(putting);
      });
    this.#putting.add(putting);
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

/** Reads `parts` one after another. */
function partsSource(parts: Uint8Array[]): ByteSource {
  let index = 0;
  let offset = 0;
  return {
    read(buffer) {
      let count = 0;
      while (count < buffer.length && index < parts.length) {
        const part = parts[index];
        const take = Math.min(buffer.length - count, part.length - offset);
        buffer.set(part.subarray(offset, offset + take), count);
        count += take;
        offset += take;
        if (offset === part.length) {
          parts[index++] = new Uint8Array(0); // let it go as soon as it is copied
          offset = 0;
        }
      }
      return Promise.resolve(count === 0 && index === parts.length ? null : count);
    },
  };
}
