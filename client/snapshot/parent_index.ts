/**
 * The parent snapshot, seen one folder at a time: the archiver holds the parent's tree of each
 * folder on its current path (and a few siblings fetched ahead), never the whole snapshot. A file
 * whose metadata says it is unchanged since the parent reuses the parent's chunk list unread.
 *
 * @module
 */
import { decodeTree, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";

/** Subtrees of one folder fetched ahead of the walk (each a tree of that folder's entries). */
export const PARENT_LOOKAHEAD = 8;

/** What `lstat` says of a path, as the unchanged check compares it. */
export interface StatLike {
  type: TreeEntry["type"];
  size: number;
  mtimeMs: number;
  ctimeMs?: number;
  inode: number;
  device: number;
}

/**
 * Whether `now` is the same as the parent's `entry` (restic's rule): same type, size (files),
 * modification and change time, inode and device. A change of mode, owner or link count moves
 * the change time, so those are covered too; only the access time may differ.
 */
export function unchanged(entry: TreeEntry | undefined, now: StatLike): boolean {
  if (!entry || entry.type !== now.type) return false;
  if (entry.type === "file" && entry.size !== now.size) return false;
  return entry.mtimeMs === now.mtimeMs && entry.ctimeMs === now.ctimeMs &&
    entry.inode === now.inode && entry.device === now.device;
}

/** One folder of the parent snapshot. */
export class ParentTree {
  readonly #entries: Map<string, TreeEntry>;
  readonly #source: BlobSource;
  readonly #ahead = new Map<string, Promise<ParentTree | undefined>>();
  readonly #onProblem: (reason: string) => void;

  private constructor(
    entries: TreeEntry[],
    source: BlobSource,
    onProblem: (reason: string) => void,
  ) {
    this.#entries = new Map(entries.map((entry) => [entry.name, entry]));
    this.#source = source;
    this.#onProblem = onProblem;
  }

  /**
   * The parent's tree `id`, or `undefined` (and `onProblem` told why) if it cannot be fetched or
   * decoded: the run then reads everything below, which is slower but right.
   */
  static async load(
    source: BlobSource,
    id: BlobId,
    onProblem: (reason: string) => void,
  ): Promise<ParentTree | undefined> {
    try {
      const tree = decodeTree(await source.get(id, "tree"));
      return new ParentTree(tree.entries, source, onProblem);
    } catch (error) {
      onProblem(`the parent snapshot's tree ${id.slice(0, 16)}… is unusable: ${error}`);
      return undefined;
    }
  }

  /** The parent's entry of that name. */
  entry(name: string): TreeEntry | undefined {
    return this.#entries.get(name);
  }

  /** Starts fetching the subtrees of `names` (the next folders the walk enters). */
  prefetch(names: string[]): void {
    for (const name of names) {
      if (this.#ahead.has(name)) continue;
      const entry = this.#entries.get(name);
      if (entry?.type !== "dir") continue;
      this.#ahead.set(name, ParentTree.load(this.#source, entry.subtree, this.#onProblem));
    }
  }

  /** The parent's tree of the folder `name` (fetched now unless prefetched), if it had one. */
  subtree(name: string): Promise<ParentTree | undefined> {
    this.prefetch([name]);
    const tree = this.#ahead.get(name) ?? Promise.resolve(undefined);
    this.#ahead.delete(name);
    return tree;
  }
}
