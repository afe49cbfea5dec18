/**
 * The blobs an S3 snapshot session received and has not indexed yet (docs/snapshots_plan.md §7):
 * where each went once its pack is written, and which of them may be indexed now. A tree is
 * indexed only once everything it names is stored (indexed before, or indexed with it), so a tree
 * any index object names is complete; the sorting is linear in the blobs waiting, whatever order
 * their trees came in.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import type { BlobCompression } from "../../repository/pack_format.ts";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import { BLOB_OVERHEAD_BYTES } from "../quota_charge.ts";
import { LimitExceededError } from "../errors.ts";
import { type BlobKind, MAX_MISSING_IDS, SNAPSHOT_ID_BYTES as ID_BYTES } from "../snapshots.ts";

/** A blob received and not indexed; `pack` and `offset` are set once its pack is written. */
export interface PendingBlob {
  id: Uint8Array;
  kind: BlobKind;
  compression: BlobCompression;
  storedLength: number;
  rawLength: number;
  /** Trees only: the ids they name, back to back. */
  refs?: Uint8Array;
  /** Its pack, relative to `p/USER/`. */
  pack?: string;
  offset?: number;
}

/** What a tree waiting costs besides its ids, as the bound on trees held counts it. */
const TREE_ENTRY_BYTES = 256;

/** See the module comment. */
export class PendingBlobs {
  readonly #blobs = new Map<string, PendingBlob>();
  readonly #maxTreeBytes: number;
  readonly #folder: string;
  #treeBytes = 0;
  #chargedBytes = 0;

  /**
   * @param folder the user's pack folder (`p/USER/`), which written packs' names start with
   * @param maxTreeBytes the bound on the memory of trees waiting
   */
  constructor(folder: string, maxTreeBytes: number) {
    this.#folder = folder;
    this.#maxTreeBytes = maxTreeBytes;
  }

  /** Bytes the quota will charge for the blobs waiting. */
  get chargedBytes(): number {
    return this.#chargedBytes;
  }

  /** Whether the blob of hex id `key` waits here. */
  has(key: string): boolean {
    return this.#blobs.has(key);
  }

  /** @throws {LimitExceededError} if trees waiting would hold more than the bound with `refs`. */
  roomFor(refs: Uint8Array | undefined): void {
    const held = refs ? refs.length + TREE_ENTRY_BYTES : 0;
    if (this.#treeBytes + held > this.#maxTreeBytes) {
      throw new LimitExceededError(
        `trees waiting for what they name would hold ${this.#treeBytes + held} bytes, over ` +
          `${this.#maxTreeBytes}`,
      );
    }
  }

  /** Adds a blob just handed to the pack writer. */
  add(blob: PendingBlob, key: string): void {
    this.#blobs.set(key, blob);
    this.#chargedBytes += blob.storedLength + BLOB_OVERHEAD_BYTES;
    if (blob.refs) this.#treeBytes += blob.refs.length + TREE_ENTRY_BYTES;
  }

  /** Records where the blobs of written packs are. */
  place(packs: readonly WrittenPack[]): void {
    for (const pack of packs) {
      for (const blob of pack.blobs) {
        const pending = this.#blobs.get(toHex(blob.id));
        if (pending && pending.pack === undefined) {
          pending.pack = pack.name.slice(this.#folder.length);
          pending.offset = blob.offset;
        }
      }
    }
  }

  /** Forgets blobs whose pack was never written (the writer failed). */
  forgetUnplaced(): void {
    for (const [key, blob] of this.#blobs) if (blob.pack === undefined) this.#forget(key, blob);
  }

  /**
   * The placed blobs that may be indexed now: every data blob, and every tree all of whose
   * references are `stored` or indexable now. Linear: a tree waits on a count of the trees of
   * this session it names, and is woken as each becomes indexable.
   */
  indexable(stored: (id: Uint8Array) => boolean): Map<string, PendingBlob> {
    const ready = new Map<string, PendingBlob>();
    const waiting = new Map<string, number>();
    const waiters = new Map<string, string[]>();
    const queue: string[] = [];
    for (const [key, blob] of this.#blobs) {
      if (blob.pack === undefined) continue;
      if (blob.kind === "data") {
        ready.set(key, blob);
        continue;
      }
      let count = 0;
      let lacking = false;
      const refs = blob.refs ?? new Uint8Array(0);
      for (let at = 0; at < refs.length && !lacking; at += ID_BYTES) {
        const ref = refs.subarray(at, at + ID_BYTES);
        const refKey = toHex(ref);
        const pending = this.#blobs.get(refKey);
        if (pending?.pack !== undefined && pending.kind === "data") continue;
        if (pending?.pack !== undefined) {
          count++;
          const list = waiters.get(refKey);
          if (list) list.push(key);
          else waiters.set(refKey, [key]);
        } else if (!stored(ref)) lacking = true;
      }
      if (lacking) continue;
      if (count === 0) queue.push(key);
      else waiting.set(key, count);
    }
    for (let next = 0; next < queue.length; next++) {
      const key = queue[next];
      ready.set(key, this.#blobs.get(key)!);
      for (const waiter of waiters.get(key) ?? []) {
        const left = waiting.get(waiter);
        if (left === undefined) continue; // it lacks something else
        if (left === 1) {
          waiting.delete(waiter);
          queue.push(waiter);
        } else waiting.set(waiter, left - 1);
      }
    }
    return ready;
  }

  /** Takes blobs out once they are indexed. */
  indexed(keys: Iterable<string>): void {
    for (const key of keys) {
      const blob = this.#blobs.get(key);
      if (blob) this.#forget(key, blob);
    }
  }

  /** The blobs below `root` that neither `stored` nor this session has (at most the limit). */
  missingBelow(root: Uint8Array, stored: (id: Uint8Array) => boolean): Uint8Array[] {
    const missing: Uint8Array[] = [];
    const visited = new Set<string>();
    const stack = [root];
    while (stack.length > 0 && missing.length < MAX_MISSING_IDS) {
      const id = stack.pop()!;
      const key = toHex(id);
      if (visited.has(key)) continue;
      visited.add(key);
      const pending = this.#blobs.get(key);
      if (!pending) {
        if (!stored(id)) missing.push(id);
        continue;
      }
      const refs = pending.refs ?? new Uint8Array(0);
      for (let at = 0; at < refs.length; at += ID_BYTES) {
        stack.push(refs.subarray(at, at + ID_BYTES));
      }
    }
    return missing;
  }

  /** Drops everything (a closed session). */
  clear(): void {
    this.#blobs.clear();
    this.#treeBytes = 0;
    this.#chargedBytes = 0;
  }

  #forget(key: string, blob: PendingBlob): void {
    this.#blobs.delete(key);
    this.#chargedBytes -= blob.storedLength + BLOB_OVERHEAD_BYTES;
    if (blob.refs) this.#treeBytes -= blob.refs.length + TREE_ENTRY_BYTES;
  }
}
