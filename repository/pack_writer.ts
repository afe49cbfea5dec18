/**
 * Writes blobs into packs: each blob goes into the pack's object as it comes (`ObjectStore.create`:
 * a temp file for a folder), and once the pack reaches its target size its header and trailer
 * (`pack_format.ts`) follow and it is committed, atomically and durably, while the next one fills.
 * At most `putsInFlight` commits (2) run per writer. Small blobs are copied into a buffer and
 * written 256 KiB at a time, larger ones from their own bytes. A folder holds no more than that
 * buffer in memory; a store that buffers until the commit (S3) holds at most three packs per writer.
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
import type { ObjectStore, ObjectWriter } from "../objects/object_store.ts";
import type { EncodedBlob } from "./blob_codec.ts";
import { encodePackTail, MAX_PACK_BLOBS, type PackBlob } from "./pack_format.ts";

/** Default size a pack is cut at (restic's default pack size). */
export const DEFAULT_PACK_TARGET_BYTES = 16 * 1024 * 1024;
/** Bytes a writer may have handed to the store's writes that are not done yet. */
const WRITE_BEHIND_BYTES = 8 * 1024 * 1024;
/**
 * Small blobs are copied into a buffer of this size and written together: a snapshot of small
 * files is thousands of blobs of a few KiB, and one awaited file write each cost more CPU than the
 * copy (3,000 blobs of 1-32 KiB: 3,000 writes, now about 200).
 */
const GATHER_BYTES = 256 * 1024;
/** Blobs at most this size are gathered; larger ones are written from their own bytes. */
const GATHERED_BLOB_BYTES = 64 * 1024;
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
   * Puts that may run at once: with two, a pack is written while the one before waits for its
   * fsync, so the disk never idles between packs. @default 2
   */
  putsInFlight?: number;
  /** Names each new pack (the S3 repository: `p/USER/SESSION.N`). @default newPackName */
  packName?: () => string;
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
  /** The pack filling: its object writer (made at its first blob), its blobs, its bytes. */
  #current: { writer: ObjectWriter; name: string } | undefined;
  #blobs: PackBlob[] = [];
  #bytes = 0;
  /** The pack's writes not yet done, in order, and their bytes. */
  #writing: Promise<void> = Promise.resolve();
  #unwritten = 0;
  /** Small blobs copied and not yet handed to a write (see `GATHER_BYTES`), and their bytes. */
  #gather: Uint8Array | undefined;
  #gathered = 0;
  /** Wakes an `add` waiting for the writes behind to fall under their bound. */
  #drained: PromiseWithResolvers<void> | undefined;
  readonly #putting = new Set<Promise<void>>();
  readonly #maxPuts: number;
  #failure: { error: unknown } | undefined;
  /** Packs put, in the order they were cut (a slot is filled when its commit resolves). */
  readonly #cutOrder: Array<WrittenPack | undefined> = [];
  #writtenCount = 0;
  /** Every pack committed or being committed: a commit that failed after its rename left one. */
  readonly #cutNames: string[] = [];
  #ended = false;
  /** Set by `abort`: an `add` in flight fails at its next step. */
  #aborted = false;
  readonly #packName: () => string;

  /** @param store where packs go */
  constructor(store: ObjectStore, options: PackWriterOptions = {}) {
    this.#store = store;
    this.#targetBytes = options.targetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    this.#maxPuts = options.putsInFlight ?? DEFAULT_PUTS_IN_FLIGHT;
    this.#packName = options.packName ?? newPackName;
  }

  /** Packs put so far (their commits have resolved). */
  get written(): readonly WrittenPack[] {
    return this.#cutOrder.filter((pack) => pack !== undefined);
  }

  /** How many packs `written` holds: a count that rises, to ask after every blob. */
  get writtenCount(): number {
    return this.#writtenCount;
  }

  /**
   * Adds a blob: its stored bytes go to the store, written behind (the writer keeps them until then:
   * the caller must not change them before `written` is called, once the write is done or failed;
   * a small blob is copied, and `written` called before this resolves).
   * Resolves once the writer can take more: a full pack waits while `putsInFlight` commits run.
   *
   * @throws what a write or an earlier commit threw.
   */
  async add(
    id: Uint8Array,
    encoded: EncodedBlob,
    rawLength: number,
    written?: () => void,
  ): Promise<void> {
    this.#throwIfFailed();
    if (this.#ended) throw new Error("the pack writer has finished");
    const size = encoded.stored.length;
    if (!this.#current) {
      const opened = await this.#open();
      if (this.#aborted) {
        // Aborted while the pack was being made: it is nobody's, and its file must not stay open.
        await opened.writer.abort();
        throw new Error("the pack writer was aborted");
      }
      this.#current = opened;
    }
    this.#blobs.push({
      id: id.slice(),
      kind: "chunk",
      compression: encoded.compression,
      storedLength: size,
      rawLength,
      offset: this.#bytes,
    });
    this.#bytes += size;
    if (size <= GATHERED_BLOB_BYTES) {
      // Copied: the caller's bytes are free at once; the copies go out in one write.
      if (this.#gathered + size > GATHER_BYTES) this.#flushGather();
      this.#gather ??= new Uint8Array(GATHER_BYTES);
      this.#gather.set(encoded.stored, this.#gathered);
      this.#gathered += size;
      written?.();
    } else {
      this.#flushGather();
      this.#write(encoded.stored, written);
    }
    // Back under the bound, not empty: the disk keeps a write queued while the caller goes on.
    while (this.#unwritten > WRITE_BEHIND_BYTES) {
      this.#drained = Promise.withResolvers();
      await this.#drained.promise;
      this.#throwIfFailed();
    }
    if (this.#aborted) throw new Error("the pack writer was aborted");
    // A pack of many tiny blobs (chunks of mostly zeros compress to a few dozen bytes) is cut at the
    // format's blob limit before its target size.
    if (this.#bytes >= this.#targetBytes || this.#blobs.length >= MAX_PACK_BLOBS) await this.#cut();
  }

  /**
   * Puts the last pack and waits for every commit.
   *
   * @returns every pack written, in order.
   * @throws what a write or a commit threw (the packs written stay: `abort` removes them).
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
    this.#aborted = true;
    this.#blobs = [];
    this.#gather = undefined;
    this.#gathered = 0;
    await this.#writing.catch(() => {});
    await this.#current?.writer.abort();
    this.#current = undefined;
    await Promise.all(this.#putting);
    await Promise.all(this.#cutNames.map((name) => this.#store.delete(name).catch(() => {})));
  }

  /** Writes the pack's tail and commits it in the background, once fewer commits than allowed run. */
  async #cut(): Promise<void> {
    while (this.#putting.size >= this.#maxPuts) await Promise.race(this.#putting);
    this.#throwIfFailed();
    const { writer, name } = this.#current!;
    const blobs = this.#blobs;
    const tail = encodePackTail(blobs);
    if (this.#gathered + tail.length <= GATHER_BYTES) {
      // The tail goes out with the last small blobs: one write fewer per pack.
      this.#gather ??= new Uint8Array(GATHER_BYTES);
      this.#gather.set(tail, this.#gathered);
      this.#gathered += tail.length;
      this.#flushGather();
      await this.#writing;
    } else {
      this.#flushGather();
      await this.#writing;
      await writer.write(tail);
    }
    const size = this.#bytes + tail.length;
    this.#current = undefined;
    this.#blobs = [];
    this.#bytes = 0;
    const slot = this.#cutOrder.push(undefined) - 1;
    this.#cutNames.push(name);
    const putting: Promise<void> = writer.commit().then(
      () => {
        this.#cutOrder[slot] = { name, size, blobs };
        this.#writtenCount++;
      },
      (error) => void (this.#failure ??= { error }),
    ).finally(() => void this.#putting.delete(putting));
    this.#putting.add(putting);
  }

  /**
   * Queues a write of `bytes` to the pack filling, behind the writes before it: the caller hashes
   * and cuts the next chunk while the file write runs. A failure is kept for the next `add`.
   */
  #write(bytes: Uint8Array, written?: () => void): void {
    const { writer } = this.#current!;
    const size = bytes.length;
    this.#unwritten += size;
    this.#writing = this.#writing.then(() => writer.write(bytes)).catch((error) => {
      this.#failure ??= { error }; // the next add throws it
      throw error;
    }).finally(() => {
      this.#unwritten -= size;
      written?.();
      this.#drained?.resolve();
    });
    this.#writing.catch(() => {}); // awaited below, at the cut, or by abort
  }

  /** Hands the small blobs gathered to one write (a fresh buffer gathers the next ones). */
  #flushGather(): void {
    if (this.#gathered === 0) return;
    const bytes = this.#gather!.subarray(0, this.#gathered);
    this.#gather = undefined;
    this.#gathered = 0;
    this.#write(bytes);
  }

  async #open(): Promise<{ writer: ObjectWriter; name: string }> {
    const name = this.#packName();
    return { writer: await this.#store.create(name), name };
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
