/**
 * The blobs an upload session received and has not indexed yet: where each went (once its pack
 * is written), what the quota will charge for them, and the memory their trees' references take.
 * Indexing is linear in the blobs waiting, whatever order their trees came in: a tree that lacks a
 * reference this session holds is tried again only once that one is indexed.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import { BLOB_OVERHEAD_BYTES } from "../quota_charge.ts";
import { LimitExceededError } from "../errors.ts";
import { MAX_MISSING_IDS, SNAPSHOT_ID_BYTES as ID_BYTES } from "../snapshots.ts";
import type { PackTally, PlacedBlob, SnapshotCatalog } from "./snapshot_catalog.ts";

/**
 * A blob received and not yet indexed; `pack` is set once its pack is written. `lacking` is where
 * the last attempt to index it found a reference not indexed.
 */
export type Pending = Omit<PlacedBlob, "pack" | "offset"> & {
  pack?: string;
  offset?: number;
  lacking?: number;
};

/**
 * What a tree waiting in a session costs besides its ids (its entry, its key), as the bound on
 * trees held counts it.
 */
const TREE_ENTRY_BYTES = 256;

/** See the module comment. */
export class PendingBlobs {
  readonly #catalog: SnapshotCatalog;
  readonly #userId: number;
  /** The names of every pack the session wrote (shared with its garbage-collection pin). */
  readonly #packs: Set<string>;
  readonly #maxTreeBytes: number;
  /** By hex id. */
  readonly #blobs = new Map<string, Pending>();
  #bytes = 0;
  #treeBytes = 0;
  /** Packs written whose rows are not in the index yet. */
  #unindexedPacks: WrittenPack[] = [];

  /**
   * @param packs the names of the packs the session wrote, added to as packs are placed
   * @param maxTreeBytes the bound on the memory of trees waiting
   */
  constructor(catalog: SnapshotCatalog, userId: number, packs: Set<string>, maxTreeBytes: number) {
    this.#catalog = catalog;
    this.#userId = userId;
    this.#packs = packs;
    this.#maxTreeBytes = maxTreeBytes;
  }

  /** Bytes of the blobs waiting as the quota will charge them. */
  get chargedBytes(): number {
    return this.#bytes;
  }

  /** Whether anything waits to be indexed (a blob or a pack's rows). */
  get waiting(): boolean {
    return this.#blobs.size > 0 || this.#unindexedPacks.length > 0;
  }

  /** Whether the blob of hex id `key` waits here. */
  has(key: string): boolean {
    return this.#blobs.has(key);
  }

  /**
   * The memory a blob with these references would take (0 for a data blob).
   *
   * @throws {LimitExceededError} if trees waiting would hold more than the bound.
   */
  roomFor(refs: Uint8Array | undefined): number {
    const held = refs ? refs.length + TREE_ENTRY_BYTES : 0;
    if (this.#treeBytes + held > this.#maxTreeBytes) {
      throw new LimitExceededError(
        `trees waiting for what they name would hold ${this.#treeBytes + held} bytes, over ` +
          `${this.#maxTreeBytes}`,
      );
    }
    return held;
  }

  /** Adds a blob just handed to the pack writer (`key`: its hex id, if the caller has it). */
  add(blob: Pending, key = toHex(blob.id)): void {
    this.#blobs.set(key, blob);
    this.#bytes += blob.storedLength + BLOB_OVERHEAD_BYTES;
    if (blob.refs) this.#treeBytes += blob.refs.length + TREE_ENTRY_BYTES;
  }

  /** Records where the blobs of packs not seen before are. */
  place(packs: readonly WrittenPack[]): void {
    for (const pack of packs) {
      if (this.#packs.has(pack.name)) continue;
      this.#packs.add(pack.name);
      this.#unindexedPacks.push(pack);
      for (const blob of pack.blobs) {
        const pending = this.#blobs.get(toHex(blob.id));
        if (pending && pending.pack === undefined) {
          pending.pack = pack.name;
          pending.offset = blob.offset;
        }
      }
    }
  }

  /** Forgets the blobs whose pack was never written (its writer failed). */
  forgetUnplaced(): void {
    for (const [key, blob] of this.#blobs) if (blob.pack === undefined) this.#forget(key, blob);
  }

  /**
   * Indexes the packs written and every placed blob whose references are indexed (trees after
   * what they name); synchronous, for inside a transaction. Each blob is tried once, and a tree
   * that lacks a reference this session holds is tried again only once that one is indexed:
   * linear in the blobs waiting (rounds over all of them were quadratic in a chain of trees sent
   * top down, with the event loop blocked meanwhile).
   *
   * @returns the keys of the blobs now indexed, for `applyIndexed` once the transaction commits.
   */
  indexNow(nowMs: number): string[] {
    const catalog = this.#catalog;
    const tally: PackTally = new Map();
    for (const pack of this.#unindexedPacks) {
      tally.set(pack.name, { packNo: catalog.indexPack(pack, this.#userId, nowMs), bytes: 0 });
    }
    const indexed: string[] = [];
    const queue = [...this.#blobs].filter(([, blob]) => blob.pack !== undefined);
    /** Trees waiting, by the key of the placed blob of this session they lack. */
    const waiters = new Map<string, Array<[string, Pending]>>();
    for (let next = 0; next < queue.length; next++) {
      const [key, blob] = queue[next];
      const lacking = catalog.indexBlob(
        this.#userId,
        blob as PlacedBlob,
        nowMs,
        blob.lacking,
        tally,
      );
      if (lacking < 0) {
        indexed.push(key);
        const woken = waiters.get(key);
        waiters.delete(key);
        if (woken) { for (const tree of woken) queue.push(tree); }
        continue;
      }
      blob.lacking = lacking;
      const ref = toHex(blob.refs!.subarray(lacking * ID_BYTES, (lacking + 1) * ID_BYTES));
      if (this.#blobs.get(ref)?.pack === undefined) continue; // not placed: not this time
      const list = waiters.get(ref);
      if (list) list.push([key, blob]);
      else waiters.set(ref, [[key, blob]]);
    }
    catalog.countTallied(tally);
    return indexed;
  }

  /**
   * Charges the placed blobs not in `indexed` to their packs' dead bytes (`packs.dropped_bytes`):
   * at a close, in the transaction of its last `indexNow`, for the blobs the session drops.
   */
  chargeDropped(indexed: ReadonlySet<string>): void {
    const byPack = new Map<string, number>();
    for (const [key, blob] of this.#blobs) {
      if (blob.pack === undefined || indexed.has(key)) continue;
      const charge = blob.storedLength + BLOB_OVERHEAD_BYTES;
      byPack.set(blob.pack, (byPack.get(blob.pack) ?? 0) + charge);
    }
    for (const [pack, bytes] of byPack) this.#catalog.chargeDropped(pack, bytes);
  }

  /** Takes what `indexNow` indexed out, once its transaction committed. */
  applyIndexed(indexed: string[]): void {
    this.#unindexedPacks = [];
    for (const key of indexed) this.#forget(key, this.#blobs.get(key)!);
  }

  /** Drops everything (a closed session). */
  clear(): void {
    this.#blobs.clear();
    this.#bytes = 0;
    this.#treeBytes = 0;
  }

  /** The blobs below an unindexed tree that neither the index nor this session has. */
  missingBelow(root: Uint8Array): Uint8Array[] {
    const missing: Uint8Array[] = [];
    const visited = new Set<string>();
    const stack = [root];
    while (stack.length > 0 && missing.length < MAX_MISSING_IDS) {
      const id = stack.pop()!;
      const key = toHex(id);
      if (visited.has(key)) continue;
      visited.add(key);
      if (this.#catalog.blobNo(this.#userId, id) !== undefined) continue;
      const pending = this.#blobs.get(key);
      if (!pending) missing.push(id);
      else {
        const refs = pending.refs ?? new Uint8Array(0);
        for (let at = 0; at < refs.length; at += ID_BYTES) {
          stack.push(refs.subarray(at, at + ID_BYTES));
        }
      }
    }
    return missing;
  }

  #forget(key: string, blob: Pending): void {
    this.#blobs.delete(key);
    this.#bytes -= blob.storedLength + BLOB_OVERHEAD_BYTES;
    if (blob.refs) this.#treeBytes -= blob.refs.length + TREE_ENTRY_BYTES;
  }
}
