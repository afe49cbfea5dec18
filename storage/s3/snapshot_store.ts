/**
 * The S3 engine's snapshot repository (`storage/snapshots.ts`, docs/snapshots_plan.md §7): blobs
 * in the user's packs, found through the index objects of snapshot sessions (`x/USER/snap.*`,
 * BKIDX002, read into a `DedupCache` of their own); a tree's references in `t/USER/`; a snapshot
 * is one object `s/USER/STOREDMS.ID` holding its root tree and record. Sessions
 * (`snapshot_session.ts`) pin as chunked uploads do (`UploadPin`); garbage collection marks from
 * the snapshots and through the trees (`snapshot_mark.ts`).
 *
 * Memory: the blob cache (48 bytes a blob, bounded by `dedupCacheBytes` as the chunk cache is), and
 * per open session its blobs not indexed yet (their places, and their trees' references).
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { CorruptStoreError, DeleteRefusedError } from "../errors.ts";
import {
  type BlobReader,
  NoSuchBlobError,
  NoSuchSnapshotError,
  type PruneReport,
  type SnapshotRepository,
  type SnapshotSession,
  type StoredBlob,
  type StoredSnapshot,
} from "../snapshots.ts";
import { DedupCache } from "./dedup_cache.ts";
import type { DoomView } from "./doom_view.ts";
import type { GcClock } from "./gc_clock.ts";
import { randomId } from "./gc_objects.ts";
import { packsFolder } from "./keys.ts";
import { UploadPin } from "./pins.ts";
import { decodeSnapshot, parseSnapshotKey, snapshotsFolder } from "./snapshot_objects.ts";
import { S3SnapshotSession } from "./snapshot_session.ts";
import { S3KeySlots } from "./key_slots.ts";
import { PackLists } from "./pack_lists.ts";
import { dropBadBlobs } from "./snapshot_drops.ts";
import { S3SnapshotPrune } from "./snapshot_prune.ts";
import { encodingOfCompression } from "../sealed_blobs.ts";

/** What the snapshot store works with, given by the engine. */
export interface S3SnapshotStoreContext {
  /** The bucket (signed PUTs and pins). */
  client: S3Client;
  /** The store's key prefix. */
  prefix: string;
  /** The bucket below the prefix. */
  objects: ObjectStore;
  /** Where packs are written (buffers held from the engine's budget). @default objects */
  packStore?: ObjectStore;
  /** The engine's tombstone view (W1). */
  view: DoomView;
  packTargetBytes: number;
  /** The blob cache's budget. @default 64 MiB */
  cacheBytes?: number;
  /** The blob cache's refresh interval. @default 30 s */
  refreshMs?: number;
  /** R/2 of the pins. */
  pinIntervalMs?: number;
  clock?: GcClock;
  /** @throws {QuotaExceededError} if `userId`'s usage and `adding` bytes would pass the quota. */
  checkQuota(userId: number, adding: number): Promise<void>;
  /** Counts bytes just stored (negative: removed, a key slot) in `userId`'s usage estimate. */
  stored(userId: number, bytes: number): void;
  appendOnlyOf(userId: number): boolean;
  now(): number;
  onError?: (error: unknown) => void;
  /**
   * A run of garbage collection that starts now under the bucket's prune lock (after any run of
   * this server under way); `held: false` if another server holds the lock.
   */
  collectGarbageNow(): Promise<{ held: boolean }>;
  /** See `S3StorageOptions.pruneGapMs`. */
  pruneGapMs?: number;
  /** The user's usage, listed now (`S3Storage.usage`). */
  usage(userId: number): Promise<number>;
}

/** Reads of a blob whose pack went meanwhile, before it counts as not there. */
const READ_ATTEMPTS = 3;
/** How old a listing a read that missed takes as it is. */
const MISS_REFRESH_MS = 1000;

/** See the module comment. */
export class S3SnapshotStore implements SnapshotRepository {
  readonly #ctx: S3SnapshotStoreContext;
  readonly #blobs: DedupCache;
  /** Packs (`p/USER/NAME`) a read found gone: the cache passes their entries over. */
  readonly #gone = new Set<string>();
  readonly #open = new Set<S3SnapshotSession>();
  readonly #closing = new Map<number, Set<Promise<void>>>();
  readonly #packLists: PackLists;
  readonly #keySlots: S3KeySlots;
  readonly #prune: S3SnapshotPrune;

  /** @param ctx what it works with */
  constructor(ctx: S3SnapshotStoreContext) {
    this.#ctx = ctx;
    this.#keySlots = new S3KeySlots(ctx);
    this.#prune = new S3SnapshotPrune(ctx);
    this.#packLists = new PackLists(ctx.objects, ctx.view);
    this.#blobs = new DedupCache({
      store: ctx.objects,
      indexes: "blobs",
      drops: true,
      budgetBytes: ctx.cacheBytes,
      refreshMs: ctx.refreshMs,
      onError: ctx.onError,
      isDoomed: (pack) => this.#gone.has(pack),
      // Reads may still come from a doomed pack, dedup decisions not: a repack's copy is taken.
      isLeaving: (pack) => ctx.view.isDoomed(pack),
    });
    ctx.view.addDoomedListener((packs) => this.#blobs.reloadUsersIn(packs));
  }

  /** See `SnapshotRepository.openSession`: pinned from now (`UploadPin`). */
  openSession(userId: number): SnapshotSession {
    const ctx = this.#ctx;
    const session = randomId();
    const closing = this.#closing.get(userId);
    const opened: S3SnapshotSession = new S3SnapshotSession({
      userId,
      session,
      store: ctx.objects,
      packStore: ctx.packStore ?? ctx.objects,
      blobs: this.#blobs,
      view: ctx.view,
      pin: new UploadPin({
        client: ctx.client,
        prefix: ctx.prefix,
        userId,
        session,
        intervalMs: ctx.pinIntervalMs,
        clock: ctx.clock,
        onError: ctx.onError,
      }),
      packTargetBytes: ctx.packTargetBytes,
      put: (name, body, signedAt) => ctx.client.put(`${ctx.prefix}${name}`, body, { signedAt }),
      checkQuota: (adding) => ctx.checkQuota(userId, adding),
      encrypted: () => this.#keySlots.any(userId),
      stored: (bytes) => ctx.stored(userId, bytes),
      packs: {
        refresh: () => this.#packLists.refresh(userId),
        has: (pack) => this.#packLists.has(userId, pack),
        add: (pack) => this.#packLists.add(userId, pack),
      },
      now: ctx.now,
      after: closing ? Promise.all(closing).then(() => {}) : undefined,
      closing: (closed) => this.#trackClosing(userId, closed),
      released: () => this.#open.delete(opened),
    });
    this.#open.add(opened);
    return opened;
  }

  #trackClosing(userId: number, closed: Promise<void>): void {
    let closing = this.#closing.get(userId);
    if (!closing) this.#closing.set(userId, closing = new Set());
    closing.add(closed);
    closed.then(() => {
      closing.delete(closed);
      if (closing.size === 0 && this.#closing.get(userId) === closing) {
        this.#closing.delete(userId);
      }
    });
  }

  /** See `SnapshotRepository.listSnapshots`: one LIST of `s/USER/`, a GET per snapshot. */
  async *listSnapshots(userId: number): AsyncIterable<StoredSnapshot> {
    const folder = snapshotsFolder(userId);
    for await (const { name } of this.#ctx.objects.list(folder)) {
      const key = parseSnapshotKey(name.slice(folder.length));
      if (!key) continue;
      let body;
      try {
        body = await this.#ctx.objects.get(name);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) continue; // forgotten since the LIST
        throw error;
      }
      const { tree, record } = decodeSnapshot(body);
      yield { id: key.id, tree, storedMs: key.storedMs, record };
    }
  }

  /** See `SnapshotRepository.readBlob`. */
  async readBlob(userId: number, id: Uint8Array): Promise<StoredBlob> {
    for (let attempt = 1;; attempt++) {
      await this.#blobs.refresh(userId);
      let found = this.#blobs.lookup(userId, id);
      if (!found) {
        // Stored by another server since this one's last listing: the index objects not read yet
        // (at most one listing a second: a client asking for ids it lacks costs no more).
        await this.#blobs.refresh(userId, MISS_REFRESH_MS);
        found = this.#blobs.lookup(userId, id);
      }
      if (!found) throw new NoSuchBlobError(id);
      const pack = `${packsFolder(userId)}${found.pack}`;
      let bytes: Uint8Array;
      try {
        bytes = await this.#ctx.objects.get(pack, {
          offset: found.offset,
          length: found.storedLength,
        });
      } catch (error) {
        if (!(error instanceof ObjectNotFoundError) || attempt === READ_ATTEMPTS) throw error;
        // Garbage collection removed this copy (another may be elsewhere): its entries are
        // dropped and the index read again, the user's other entries answering meanwhile (a
        // session of the user's may be in a call).
        this.#gone.add(pack);
        this.#blobs.dropPacks([pack]);
        await this.#blobs.reloadUser(userId);
        continue;
      }
      if (bytes.length !== found.storedLength) {
        throw new CorruptStoreError(`pack ${pack} ends inside blob ${toHex(id)}`);
      }
      return {
        kind: found.kind === "tree" ? "tree" : "data",
        encoding: encodingOfCompression(found.compression),
        rawLength: found.rawLength,
        bytes,
      };
    }
  }

  /** See `SnapshotRepository.blobReader`: reads as `readBlob` (the cache is the store's). */
  blobReader(userId: number): BlobReader {
    return { read: (id) => this.readBlob(userId, id), close: () => {} };
  }

  /** See `SnapshotRepository.forgetSnapshot`: DELETE of its object. */
  async forgetSnapshot(userId: number, id: Uint8Array): Promise<void> {
    if (this.#ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`snapshot ${toHex(id)}`);
    const suffix = `.${toHex(id)}`;
    let found = false;
    for await (const { name } of this.#ctx.objects.list(snapshotsFolder(userId))) {
      if (!name.endsWith(suffix)) continue;
      await this.#ctx.objects.delete(name);
      found = true;
    }
    if (!found) throw new NoSuchSnapshotError(id);
    this.#prune.changed();
  }

  /** See `SnapshotRepository.listKeySlots`: `key_slots.ts`. */
  listKeySlots(userId: number): Promise<Uint8Array[]> {
    return this.#keySlots.list(userId);
  }

  /** See `SnapshotRepository.addKeySlot`: `key_slots.ts`. */
  addKeySlot(userId: number, slot: Uint8Array, options?: { first?: boolean }): Promise<void> {
    return this.#keySlots.add(userId, slot, options);
  }

  /** See `SnapshotRepository.removeKeySlot`: `key_slots.ts` (best effort across servers). */
  removeKeySlot(userId: number, slotId: Uint8Array): Promise<void> {
    return this.#keySlots.remove(userId, slotId);
  }

  /** See `SnapshotRepository.prune`: `snapshot_prune.ts`. */
  prune(userId: number): Promise<PruneReport> {
    return this.#prune.prune(userId);
  }

  /**
   * See `SnapshotRepository.dropBlobs`: each blob read again where the index places it, the bad
   * ones dropped by one drop record `r/USER/RANDOM` (`snapshot_drops.ts`).
   */
  dropBlobs(userId: number, ids: Uint8Array[]): Promise<Uint8Array[]> {
    return dropBadBlobs(
      {
        objects: this.#ctx.objects,
        appendOnlyOf: (user) => this.#ctx.appendOnlyOf(user),
        locate: async (user, id) => {
          await this.#blobs.refresh(user, MISS_REFRESH_MS);
          return this.#blobs.lookup(user, id);
        },
        dropped: (user, name, record) => {
          this.#blobs.addDrops(user, name, record);
          this.#prune.changed();
        },
      },
      userId,
      ids,
    );
  }

  /** Closes the sessions still open (what they received indexed for the next run). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#open].map((session) => session.close()));
  }
}
