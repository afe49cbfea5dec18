/**
 * The objects snapshots add to the S3 repository (pure: no I/O; docs/snapshots_plan.md §7):
 *
 * ```text
 * PREFIX p/USER/SESSION.N       a session's packs (BKPACK01), data blobs and trees
 * PREFIX x/USER/snap.SESSION.N  their index (BKIDX002, `chunk_list.ts`): where each blob is, its kind
 * PREFIX t/USER/SESSION.N       the references of the session's trees indexed there (BKTREF01)
 * PREFIX s/USER/STOREDMS.ID     a snapshot (BKSNAP01): its root tree and the client's record
 * ```
 *
 * BKTREF01: magic (8 bytes), tree count u32 LE, then per tree, sorted by id: the tree's id (32),
 * its ref count u32 LE, and that many ids (32 each). BKSNAP01: magic (8 bytes), the root tree's id
 * (32), then the record to the end. STOREDMS is 15 decimal digits (keys sort as times do), ID 64
 * lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSnapshotKey, snapshotKey } from "./snapshot_objects.ts";
 * const id = new Uint8Array(32).fill(0xab);
 * const key = snapshotKey(7, 1000, id);
 * assert.equal(key, "s/7/000000000001000." + "ab".repeat(32));
 * assert.equal(parseSnapshotKey(key.slice("s/7/".length))?.storedMs, 1000);
 * ```
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { CorruptStoreError } from "../errors.ts";
import { MAX_TREE_REFS, SNAPSHOT_ID_BYTES as ID_BYTES } from "../snapshots.ts";

/** Magic of a tree-refs object. */
export const TREE_REFS_MAGIC = "BKTREF01";
/** Magic of a snapshot object. */
export const SNAPSHOT_MAGIC = "BKSNAP01";
/** What a snapshot session's index objects start with (after `x/USER/`). */
export const BLOB_INDEX_TAG = "snap.";
const MAGIC_BYTES = 8;
const STORED_MS_DIGITS = 15;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The folder of a user's snapshots, as an object name. */
export function snapshotsFolder(userId: number): string {
  return `s/${userId}/`;
}

/** The folder of a user's tree-refs objects, as an object name. */
export function treeRefsFolder(userId: number): string {
  return `t/${userId}/`;
}

/** A snapshot's object name (below the store's prefix). */
export function snapshotKey(userId: number, storedMs: number, id: Uint8Array): string {
  return `${snapshotsFolder(userId)}${String(storedMs).padStart(STORED_MS_DIGITS, "0")}.${
    toHex(id)
  }`;
}

/** Reads a snapshot key given without its folder; undefined if it is not one. */
export function parseSnapshotKey(rest: string): { storedMs: number; id: Uint8Array } | undefined {
  const match = /^(\d{15})\.([0-9a-f]{64})$/.exec(rest);
  return match ? { storedMs: Number(match[1]), id: Uint8Array.fromHex(match[2]) } : undefined;
}

/** The names of a session's flush `n`: its index object and its tree-refs object. */
export function sessionObjects(
  userId: number,
  session: string,
  n: number,
): { index: string; refs: string } {
  return {
    index: `x/${userId}/${BLOB_INDEX_TAG}${session}.${n}`,
    refs: `${treeRefsFolder(userId)}${session}.${n}`,
  };
}

/** The body of a snapshot object. */
export function encodeSnapshot(tree: Uint8Array, record: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(MAGIC_BYTES + ID_BYTES + record.length);
  bytes.set(encoder.encode(SNAPSHOT_MAGIC));
  bytes.set(tree, MAGIC_BYTES);
  bytes.set(record, MAGIC_BYTES + ID_BYTES);
  return bytes;
}

/** @throws {CorruptStoreError} if `bytes` is not a snapshot object. */
export function decodeSnapshot(bytes: Uint8Array): { tree: Uint8Array; record: Uint8Array } {
  if (
    bytes.length < MAGIC_BYTES + ID_BYTES ||
    decoder.decode(bytes.subarray(0, MAGIC_BYTES)) !== SNAPSHOT_MAGIC
  ) {
    throw new CorruptStoreError(`a snapshot object of ${bytes.length} bytes that is not one`);
  }
  return {
    tree: bytes.slice(MAGIC_BYTES, MAGIC_BYTES + ID_BYTES),
    record: bytes.slice(MAGIC_BYTES + ID_BYTES),
  };
}

/** One tree's references: the ids back to back. */
export interface TreeRefs {
  id: Uint8Array;
  /** `count * 32` bytes. */
  refs: Uint8Array;
}

/**
 * The body of a tree-refs object; `trees` must be sorted by id, distinct.
 *
 * @throws {RangeError} if they are not, or a tree names more than `MAX_TREE_REFS` blobs.
 */
export function encodeTreeRefs(trees: readonly TreeRefs[]): Uint8Array {
  let size = MAGIC_BYTES + 4;
  trees.forEach((tree, i) => {
    if (i > 0 && compare(trees[i - 1].id, tree.id) >= 0) throw new RangeError("trees not sorted");
    if (tree.refs.length % ID_BYTES !== 0 || tree.refs.length / ID_BYTES > MAX_TREE_REFS) {
      throw new RangeError(`a tree with ${tree.refs.length} bytes of references`);
    }
    size += ID_BYTES + 4 + tree.refs.length;
  });
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(encoder.encode(TREE_REFS_MAGIC));
  view.setUint32(MAGIC_BYTES, trees.length, true);
  let at = MAGIC_BYTES + 4;
  for (const tree of trees) {
    bytes.set(tree.id, at);
    view.setUint32(at + ID_BYTES, tree.refs.length / ID_BYTES, true);
    bytes.set(tree.refs, at + ID_BYTES + 4);
    at += ID_BYTES + 4 + tree.refs.length;
  }
  return bytes;
}

/** @throws {CorruptStoreError} if `bytes` is not a well-formed tree-refs object. */
export function decodeTreeRefs(bytes: Uint8Array): TreeRefs[] {
  const refuse = (reason: string): never => {
    throw new CorruptStoreError(`a tree-refs object that ${reason}`);
  };
  if (
    bytes.length < MAGIC_BYTES + 4 ||
    decoder.decode(bytes.subarray(0, MAGIC_BYTES)) !== TREE_REFS_MAGIC
  ) refuse("has the wrong magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = view.getUint32(MAGIC_BYTES, true);
  if (count * (ID_BYTES + 4) > bytes.length) refuse(`declares ${count} trees`);
  const trees: TreeRefs[] = [];
  let at = MAGIC_BYTES + 4;
  for (let i = 0; i < count; i++) {
    if (at + ID_BYTES + 4 > bytes.length) refuse("ends inside a tree");
    const refs = view.getUint32(at + ID_BYTES, true);
    const end = at + ID_BYTES + 4 + refs * ID_BYTES;
    if (refs > MAX_TREE_REFS || end > bytes.length) refuse(`names ${refs} refs past its end`);
    const tree = {
      id: bytes.subarray(at, at + ID_BYTES),
      refs: bytes.subarray(at + ID_BYTES + 4, end),
    };
    if (i > 0 && compare(trees[i - 1].id, tree.id) >= 0) refuse("is not sorted by id");
    trees.push(tree);
    at = end;
  }
  if (at !== bytes.length) refuse(`has ${bytes.length - at} bytes past its trees`);
  return trees;
}

/** Compares two ids bytewise. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
