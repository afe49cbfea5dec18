/**
 * Reading a snapshot's trees for a restore: a loader that fetches and decodes trees, many in
 * flight, and keeps them (up to a byte budget) between the restorer's counting pass and its
 * writing pass; and the walk both passes share, which refuses a tree that names one of its own
 * ancestors, nests deeper than allowed, or holds more tree bytes along one path than allowed.
 *
 * @module
 */
import {
  decodeTree,
  type DirEntry,
  type FileEntry,
  type SymlinkEntry,
  type Tree,
  type TreeEntry,
} from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { isPathFailure, RestoreError, UnsafeSnapshotError } from "./restore_errors.ts";
import type { PathFilter, Selection } from "./restore_filter.ts";

/** Prefetches waiting to start are dropped past this many (they are fetched when reached). */
const MAX_PREFETCH_QUEUE = 65_536;
/**
 * A decoded tree is charged to the cache as this many times its encoding (its entries as objects,
 * its ids as hex strings): about what it takes in memory.
 */
const DECODED_FACTOR = 3;

/** A decoded tree and the size of its encoding. */
export interface LoadedTree {
  tree: Tree;
  bytes: number;
}

/**
 * Fetches and decodes trees; see the module comment. The cache holds trees decoded (each decoded
 * once, not again in the writing pass), charged `DECODED_FACTOR` times their encoded size.
 */
export class TreeLoader {
  readonly #cache = new Map<BlobId, LoadedTree>();
  readonly #inFlight = new Map<BlobId, Promise<LoadedTree | undefined>>();
  readonly #queue: BlobId[] = [];
  #cachedBytes = 0;
  #largest = 0;
  /** Trees fetched from the source (for tests and the report). */
  fetched = 0;

  /**
   * @param source where trees come from
   * @param cacheBytes at most this many bytes of encoded trees are kept
   * @param concurrency at most this many prefetches in flight
   */
  constructor(
    readonly source: BlobSource,
    readonly cacheBytes: number,
    readonly concurrency: number,
  ) {}

  /**
   * The tree `id`: kept (if it fits) when `keep`, else taken out of the cache.
   *
   * @throws {BlobUnavailableError} for a blob the source cannot give; {CorruptTreeError}.
   */
  async load(id: BlobId, keep: boolean): Promise<LoadedTree> {
    const loaded = this.#cache.get(id) ?? await this.#inFlight.get(id) ?? await this.#fetch(id);
    if (keep) this.#remember(id, loaded);
    else if (this.#cache.delete(id)) {
      this.#cachedBytes -= loaded.bytes * DECODED_FACTOR;
      this.#pump();
    }
    return loaded;
  }

  /** Starts fetching `ids` ahead of need, as long as the cache has room. */
  prefetch(ids: BlobId[]): void {
    for (const id of ids) {
      if (this.#queue.length >= MAX_PREFETCH_QUEUE) break;
      if (!this.#cache.has(id) && !this.#inFlight.has(id)) this.#queue.push(id);
    }
    this.#pump();
  }

  /** Waits for every prefetch in flight (before the restore returns) and drops the rest. */
  async settle(): Promise<void> {
    this.#queue.length = 0;
    await Promise.all(this.#inFlight.values());
  }

  #pump(): void {
    while (
      this.#queue.length > 0 && this.#inFlight.size < this.concurrency &&
      // Room for what is in flight, guessing each as large as the largest tree seen: a prefetch
      // the cache cannot keep is a fetch wasted.
      this.#cachedBytes + (this.#inFlight.size + 1) * this.#largest * DECODED_FACTOR <=
        this.cacheBytes
    ) {
      const id = this.#queue.shift()!;
      if (this.#cache.has(id) || this.#inFlight.has(id)) continue;
      // A prefetch that fails is forgotten: `load` fetches again and reports the error there.
      const promise = this.#fetch(id).then(
        (loaded) => (this.#remember(id, loaded), loaded),
        () => undefined,
      ).finally(() => {
        this.#inFlight.delete(id);
        this.#pump();
      });
      this.#inFlight.set(id, promise);
    }
  }

  async #fetch(id: BlobId): Promise<LoadedTree> {
    this.fetched++;
    const raw = await this.source.get(id, "tree");
    this.#largest = Math.max(this.#largest, raw.length);
    return { tree: decodeTree(raw), bytes: raw.length };
  }

  #remember(id: BlobId, loaded: LoadedTree): void {
    const charge = loaded.bytes * DECODED_FACTOR;
    if (this.#cache.has(id) || this.#cachedBytes + charge > this.cacheBytes) return;
    this.#cache.set(id, loaded);
    this.#cachedBytes += charge;
  }
}

/** What a walk calls, in the snapshot's order (a folder's entries between its enter and leave). */
export interface TreeVisitor {
  /** A folder to restore or to look into; false skips everything beneath it. */
  enterDir(entry: DirEntry, path: string[], selection: Selection): Promise<boolean>;
  /** After everything beneath a folder that `enterDir` let in. */
  leaveDir(entry: DirEntry, path: string[]): Promise<void>;
  /** A file or a link selected for restore. */
  leaf(entry: FileEntry | SymlinkEntry, path: string[]): Promise<void>;
}

/** Limits of a walk. */
export interface WalkLimits {
  /** Folders nested deeper than this below the snapshot's root are refused. */
  maxDepth: number;
  /** Encoded trees held at once along one path (a folder and its ancestors) are at most this. */
  maxPathTreeBytes: number;
  /** Entries one walk visits at most (each time it meets them). */
  maxEntries: number;
}

/** A walk lets the event loop turn (timers, signals) every this many entries. */
const ENTRIES_PER_TURN = 4096;

/** Where a walk starts: a tree, the ids of the trees above it and its path in the snapshot. */
export interface WalkRoot {
  tree: Tree;
  bytes: number;
  /** The ids of the trees from the snapshot's root down to this one (none for a lone file). */
  ancestors: BlobId[];
  /** Its path in the snapshot, as components. */
  path: string[];
}

/** Everything a walk needs besides the root and the visitor. */
export interface WalkOptions extends WalkLimits {
  loader: TreeLoader;
  filter: PathFilter;
  /** Keep trees in the loader's cache (the counting pass) or take them out (the writing pass). */
  keep: boolean;
  /** Checked as the walk goes (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Given a folder whose tree cannot be read (`isPathFailure`): the walk goes on past it, entered
   * and left with nothing in it. Without it, the walk throws.
   */
  onTreeError?: (error: RestoreError) => void;
}

/**
 * Calls `visitor` for every entry beneath `root` that `options.filter` selects.
 *
 * @throws {UnsafeSnapshotError} for a loop, a nesting too deep or too many tree bytes on a path;
 *   {RestoreError} naming the folder whose tree cannot be read (unless `options.onTreeError`
 *   takes it); whatever `visitor` throws.
 */
export async function walkTree(
  root: WalkRoot,
  visitor: TreeVisitor,
  options: WalkOptions,
): Promise<void> {
  const ancestors = new Set(root.ancestors);
  const base = root.path.length;
  let entries = 0;
  const visit = async (tree: Tree, path: string[], heldBytes: number): Promise<void> => {
    options.loader.prefetch(subtreesOf(tree, path, options.filter));
    for (const entry of tree.entries) {
      const entryPath = [...path, entry.name];
      if (++entries > options.maxEntries) {
        throw new UnsafeSnapshotError(
          entryPath.slice(base).join("/"),
          `more than ${options.maxEntries} entries (folders naming one tree again and again?)`,
        );
      }
      // Trees from the cache resolve at once: without a turn now and then, neither a timer nor
      // Ctrl-C could stop a walk through a hostile snapshot.
      if (entries % ENTRIES_PER_TURN === 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        options.signal?.throwIfAborted();
      }
      const selection = options.filter.select(entryPath, entry.type === "dir");
      if (selection === "skip") continue;
      if (entry.type !== "dir") {
        await visitor.leaf(entry, entryPath);
        continue;
      }
      const shown = entryPath.slice(base).join("/");
      if (ancestors.has(entry.subtree)) {
        throw new UnsafeSnapshotError(shown, "the folder names one of its own ancestors (a loop)");
      }
      if (entryPath.length - base > options.maxDepth) {
        throw new UnsafeSnapshotError(shown, `folders nested deeper than ${options.maxDepth}`);
      }
      if (!(await visitor.enterDir(entry, entryPath, selection))) continue;
      let loaded: LoadedTree;
      try {
        loaded = await options.loader.load(entry.subtree, options.keep);
      } catch (error) {
        const failure = new RestoreError(
          shown,
          `its tree cannot be read: ${(error as Error).message}`,
          { cause: error },
        );
        if (!options.onTreeError || !isPathFailure(error, options.signal)) throw failure;
        options.onTreeError(failure);
        await visitor.leaveDir(entry, entryPath);
        continue;
      }
      // Trees along the path are held decoded: charged as the cache charges them.
      const held = heldBytes + loaded.bytes * DECODED_FACTOR;
      if (held > options.maxPathTreeBytes) {
        throw new UnsafeSnapshotError(
          shown,
          `more than ${options.maxPathTreeBytes} bytes of trees along one path`,
        );
      }
      ancestors.add(entry.subtree);
      await visit(loaded.tree, entryPath, held);
      ancestors.delete(entry.subtree);
      await visitor.leaveDir(entry, entryPath);
    }
  };
  await visit(root.tree, root.path, root.bytes * DECODED_FACTOR);
}

/**
 * The tree the restore starts from: the root tree, or the folder `subPath` names in it (its
 * contents are restored into the target), or a lone file or link (restored into the target under
 * its name).
 *
 * @throws {RestoreError} if `subPath` names nothing, or goes through something not a folder.
 */
export async function resolveRoot(
  loader: TreeLoader,
  rootTree: BlobId,
  subPath: string,
): Promise<WalkRoot> {
  const components = subPath.split("/").filter((c) => c !== "" && c !== ".");
  let loaded = await loadOrExplain(loader, rootTree, "/");
  const ancestors = [rootTree];
  for (let i = 0; i < components.length; i++) {
    const shown = "/" + components.slice(0, i + 1).join("/");
    const entry: TreeEntry | undefined = loaded.tree.entries.find((e) => e.name === components[i]);
    if (!entry) throw new RestoreError(shown, "not in the snapshot");
    if (entry.type !== "dir") {
      if (i < components.length - 1) throw new RestoreError(shown, "not a folder");
      return { tree: { entries: [entry] }, bytes: 0, ancestors: [], path: components.slice(0, i) };
    }
    if (ancestors.includes(entry.subtree)) {
      throw new UnsafeSnapshotError(shown, "the folder names one of its own ancestors (a loop)");
    }
    loaded = await loadOrExplain(loader, entry.subtree, shown);
    ancestors.push(entry.subtree);
  }
  return { tree: loaded.tree, bytes: loaded.bytes, ancestors, path: components };
}

async function loadOrExplain(loader: TreeLoader, id: BlobId, shown: string): Promise<LoadedTree> {
  try {
    // Kept: the counting pass and the writing pass both start here.
    return await loader.load(id, true);
  } catch (error) {
    throw new RestoreError(shown, `its tree cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The subtrees of `tree` a walk will enter (for prefetching). */
function subtreesOf(tree: Tree, path: string[], filter: PathFilter): BlobId[] {
  const ids: BlobId[] = [];
  for (const entry of tree.entries) {
    if (entry.type === "dir" && filter.select([...path, entry.name], true) !== "skip") {
      ids.push(entry.subtree);
    }
  }
  return ids;
}
