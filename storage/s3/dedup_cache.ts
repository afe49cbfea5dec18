/**
 * What this server knows of a user's chunks, to store each chunk once per user (never across
 * users). The truth is the bucket's index objects `x/USER/*` (BKIDX001, `chunk_list.ts`), written
 * by every server after the record that names their chunks (so an index never names a chunk no
 * record has referenced); this cache reads them, and adds the chunks this server's own uploads
 * stored as soon as their records are. Index objects are hints: a chunk missing here is stored
 * again (a second copy, harmless), and a chunk is found here only once a record names it.
 *
 * Memory: per user, one sorted `Uint8Array` of 48-byte entries (id, pack index, offset, lengths),
 * looked up by binary search, the pack-name table, and a small `Map` of entries added since the
 * last merge: about 48 MB per million chunks. Users are dropped least recently used first once all
 * of them pass the budget (a dropped user only costs misses and one reload).
 *
 * Refresh (`dedup_reads.ts`): at a user's first chunked upload on this server, LIST `x/USER/` and
 * GET every object (8 at once); at a later upload, only if the last LIST is older than `refreshMs`
 * (30 s), and only the objects not yet read (they never change). Another server's chunks are
 * therefore found at the first upload after its refresh. A doom of one of the user's packs
 * (`reloadUsersIn`), or a pack a read found gone (`reloadUser`), makes the next refresh a reload:
 * every object read anew into a replacement, swapped in once read, so that no lookup meanwhile
 * finds the user gone (a session's call would answer every blob missing).
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import type { ChunkTable } from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import { packsFolder } from "./keys.ts";
import {
  addTable,
  bytesOf,
  droppedIdsOf,
  dropUserPacks,
  emptyUserChunks,
  findChunk,
  markReload,
  packsByUser,
  replacementOf,
  type UserChunks,
  withReplacement,
} from "./dedup_user_chunks.ts";
import { applyDrops } from "./dedup_user_drops.ts";
import {
  type DedupReadContext,
  listDropRecords,
  readDropRecords,
  readIndexObjects,
} from "./dedup_reads.ts";

/** How a `DedupCache` is bounded and refreshed. */
export interface DedupCacheOptions {
  /** The bucket's object store (index objects are `x/USER/NAME` in it). */
  store: ObjectStore;
  /** Bytes of entries all users' caches hold at most. @default 64 MiB */
  budgetBytes?: number;
  /** A user's index objects are listed again at an upload once the last LIST is this old. @default 30 s */
  refreshMs?: number;
  /** The clock of refreshes (milliseconds). @default performance.now */
  now?: () => number;
  /** Told of an index object that could not be read or decoded (it is passed over). */
  onError?: (error: unknown) => void;
  /**
   * Whether a pack (`p/USER/NAME`) is in a tombstone of this server's view (`DoomView`): an index
   * object read later may still name it, and its entries are then skipped (rule W1).
   * @default none is
   */
  isDoomed?: (pack: string) => boolean;
  /**
   * Whether a pack (`p/USER/NAME`) is leaving, for a cache that still reads from packs doomed
   * (snapshot blobs): an id placed there takes a place elsewhere (a repack's copy) read later, and
   * `reloadUsersIn` makes it read again. @default none is
   */
  isLeaving?: (pack: string) => boolean;
  /**
   * Which index objects it reads: those of chunked uploads (BKIDX001 and GC's), or those of
   * snapshot sessions (`x/USER/snap.*`, BKIDX002: blobs with their kind, `snapshot_objects.ts`).
   * @default "chunks"
   */
  indexes?: "chunks" | "blobs";
  /**
   * Whether it applies the user's drop records (`r/USER/*`, `snapshot_drops.ts`): listed before the
   * index objects at each refresh, their places are never looked up. A record not read before
   * costs one GET and forgets the entries at its places (an id whose kept place it drops leaves
   * the cache until a new index object names it: a dedup miss); a record no longer listed
   * (garbage collection deleted it) is forgotten. Snapshot blobs only. @default false
   */
  drops?: boolean;
}

/** A per-server cache of each user's chunks; see the module comment. */
export class DedupCache {
  readonly #store: ObjectStore;
  readonly #budget: number;
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  /** What reading the bucket works with (`dedup_reads.ts`). */
  readonly #reads: DedupReadContext;
  readonly #drops: boolean;
  readonly #isLeaving?: (pack: string) => boolean;
  /** In least recently used order (a use moves a user last). */
  readonly #users = new Map<number, UserChunks>();
  /** How many LISTs of drop records have started (numbers them, for `pruneDrops`). */
  #dropListings = 0;

  /** @param options see `DedupCacheOptions` */
  constructor(options: DedupCacheOptions) {
    this.#store = options.store;
    this.#budget = options.budgetBytes ?? 64 * 1024 * 1024;
    this.#refreshMs = options.refreshMs ?? 30_000;
    this.#now = options.now ?? (() => performance.now());
    this.#onError = options.onError ?? (() => {});
    this.#reads = {
      store: this.#store,
      blobs: options.indexes === "blobs",
      onError: this.#onError,
      isDoomed: options.isDoomed ?? (() => false),
    };
    this.#drops = options.drops ?? false;
    this.#isLeaving = options.isLeaving;
  }

  /** Bytes all users' caches hold (as counted against the budget). */
  get bytes(): number {
    return [...this.#users.values()].reduce((bytes, user) => bytes + bytesOf(user), 0);
  }

  /**
   * Reads the user's index objects not read yet, if the user was never listed here or was listed
   * `refreshMs` ago or more; resolves at once otherwise. Callers at the same time share one refresh.
   * Never rejects: a failed LIST or GET is reported to `onError` (and costs only misses).
   *
   * @param maxAgeMs how old the last listing may be (a read that missed passes less: another
   *   server may have stored the blob since, and it lists again at most that often)
   */
  refresh(userId: number, maxAgeMs = this.#refreshMs): Promise<void> {
    const user = this.#touch(userId);
    if (user.refreshing) return user.refreshing;
    if (!user.reloadDue && user.listedAt !== undefined && this.#now() - user.listedAt < maxAgeMs) {
      return Promise.resolve();
    }
    user.refreshing = this.#refresh(userId, user).catch(this.#onError)
      .finally(() => user.refreshing = undefined);
    return user.refreshing;
  }

  /**
   * Lists the user's drop records now (one LIST, when `drops` is on), then refreshes as `refresh`
   * does; a record not read yet makes that refresh due whatever its age, and records no longer
   * listed are forgotten. Never rejects.
   */
  async refreshDrops(userId: number): Promise<void> {
    if (this.#drops) {
      await this.#touch(userId).refreshing;
      try {
        const listing = ++this.#dropListings;
        const listed = await listDropRecords(this.#store, userId, this.#touch(userId), listing);
        // The user as held now: a reload may have replaced it meanwhile.
        const user = this.#touch(userId);
        if ([...listed].some((name) => !user.dropsRead.has(name))) user.listedAt = undefined;
      } catch (error) {
        this.#onError(error);
      }
    }
    await this.refresh(userId);
  }

  /**
   * Applies drop record `name` (`r/USER/NAME`, its places `table`) that this server just stored,
   * without waiting for a listing to show it: its places are never looked up from now on.
   */
  addDrops(userId: number, name: string, table: ChunkTable): void {
    if (!this.#drops) return;
    const user = this.#users.get(userId);
    // A user not held reads every record at its next refresh.
    if (!user) return;
    for (const held of withReplacement(user)) applyDrops(held, name, table);
    this.#evict(userId);
  }

  /** Where the user's chunk `id` is, if this server knows it. */
  lookup(userId: number, id: Uint8Array): ChunkLocation | undefined {
    const user = this.#users.get(userId);
    if (!user) return undefined;
    this.#users.delete(userId); // a use: the user becomes the most recently used
    this.#users.set(userId, user);
    return findChunk(user, id);
  }

  /**
   * Adds chunks this server stored for the user, once a record names them; `indexNames` are the
   * index objects that will hold them (not to be read back).
   */
  add(userId: number, table: ChunkTable, indexNames: readonly string[] = []): void {
    for (const held of withReplacement(this.#touch(userId))) {
      for (const name of indexNames) held.read.add(name);
      addTable(held, table);
    }
    this.#evict(userId);
  }

  /**
   * The ids of the user's dropped places this server has read (each once): a blob among them is
   * unhealed unless another place of it is found.
   */
  droppedIds(userId: number): Uint8Array[] {
    const user = this.#users.get(userId);
    return user ? droppedIdsOf(user) : [];
  }

  /** Forgets every user (their next upload reloads). */
  clear(): void {
    this.#users.clear();
  }

  /**
   * Reloads the user now (after the refresh under way, if any), the entries held answering until
   * it is swapped in; a user not held is read whole at the next refresh. Never rejects.
   */
  async reloadUser(userId: number): Promise<void> {
    const user = this.#users.get(userId);
    if (!user) return;
    markReload(user);
    await user.refreshing;
    await this.refresh(userId);
  }

  /**
   * Forgets every chunk in `packs` (keys relative to the prefix, `p/USER/NAME`): a GC run doomed
   * them, and no upload may start relying on them (rule W1).
   */
  dropPacks(packs: readonly string[]): void {
    for (const [userId, names] of packsByUser(packs)) {
      const user = this.#users.get(userId);
      for (const held of user ? withReplacement(user) : []) dropUserPacks(held, names);
    }
  }

  /**
   * Marks for a reload each user who has entries in `packs` (`p/USER/NAME`, just doomed): the
   * user's next refresh reads all of the user's index objects anew, where a copy of what the packs
   * hold (a repack's) takes the place of the leaving one, instead of being passed over as an id
   * already known. Until the reload is read, the entries held answer.
   */
  reloadUsersIn(packs: readonly string[]): void {
    for (const [userId, names] of packsByUser(packs)) {
      const user = this.#users.get(userId);
      if (user) markReload(user, names);
    }
  }

  /** Reads what is new, or, once a reload is due, everything into a replacement swapped in. */
  async #refresh(userId: number, user: UserChunks): Promise<void> {
    if (!user.reloadDue) return await this.#read(userId, user);
    const replacement = replacementOf(user, this.#emptyUser(userId));
    try {
      await this.#read(userId, replacement);
    } finally {
      user.replacement = undefined;
    }
    // Evicted or cleared meanwhile: the reload goes with it.
    if (this.#users.get(userId) !== user) return;
    this.#users.set(userId, replacement);
  }

  async #read(userId: number, user: UserChunks): Promise<void> {
    const listedAt = this.#now();
    if (this.#drops) {
      const listing = ++this.#dropListings;
      const listed = await listDropRecords(this.#store, userId, user, listing);
      await readDropRecords(this.#reads, user, listed, listing);
    }
    await readIndexObjects(this.#reads, userId, user);
    user.listedAt = listedAt;
    this.#evict(userId);
  }

  #touch(userId: number): UserChunks {
    let user = this.#users.get(userId);
    if (user) this.#users.delete(userId);
    user ??= this.#emptyUser(userId);
    this.#users.set(userId, user);
    return user;
  }

  #emptyUser(userId: number): UserChunks {
    const leaving = this.#isLeaving;
    return emptyUserChunks(leaving && ((name) => leaving(`${packsFolder(userId)}${name}`)));
  }

  /** Drops the least recently used users (never `keep`) while all pass the budget. */
  #evict(keep: number): void {
    let bytes = this.bytes;
    for (const [userId, user] of this.#users) {
      if (bytes <= this.#budget) break;
      if (userId === keep) continue;
      bytes -= bytesOf(user);
      this.#users.delete(userId);
    }
  }
}
