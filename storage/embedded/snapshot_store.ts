/**
 * The embedded engine's snapshot repository (`storage/snapshots.ts`, docs/snapshots_plan.md §3):
 * sessions (`snapshot_session.ts`) write blobs into packs beside the chunks of v2 uploads, in the
 * same `blobs` and `packs` tables (one user's chunk is stored once, whichever protocol sent it);
 * snapshots are rows of `snapshots` that reference their root tree. Garbage collection
 * (`chunk_gc.ts`) removes what nothing references, trees releasing what they name.
 *
 * @example
 * ```ts ignore
 * const session = storage.snapshots.openSession(userId);
 * const [lacking] = await session.missing([chunkId]);
 * if (lacking) await session.put({ id: chunkId, kind: "data", encoding: "raw", rawLength, bytes });
 * await session.put({ id: treeId, kind: "tree", encoding: "raw", rawLength, bytes: tree, refs });
 * const { missing } = await session.commit({ id: recordId, tree: treeId, record });
 * await session.close();
 * ```
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import { ObjectNotFoundError } from "../../objects/object_store.ts";
import { toHex } from "../../common/hex.ts";
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
import type { ChangeSize } from "./index_writes.ts";
import { PackReaders } from "./pack_readers.ts";
import { SnapshotCatalog } from "./snapshot_catalog.ts";
import { EmbeddedSnapshotSession, type SnapshotCommitStep } from "./snapshot_session.ts";
import { EmbeddedKeySlots } from "./key_slots.ts";
import { encodingOfCompression } from "../sealed_blobs.ts";
import type { VersionIndex } from "./version_index.ts";
import type { GarbageCollectionReport } from "./chunk_gc.ts";
import { dropDamaged, pruneNow, type SnapshotRepairContext } from "./snapshot_repair.ts";
import { PRUNE_GAP_MS, PruneGate } from "../prune_gate.ts";

/** Snapshots read from the index per page of a list. */
const LIST_PAGE_ROWS = 256;
/** Reads of a blob whose pack a repack moved meanwhile, before it counts as damaged. */
const READ_ATTEMPTS = 3;

/** What the snapshot store works with, given by the engine. */
export interface SnapshotStoreContext {
  index: VersionIndex;
  store: ObjectStore;
  packTargetBytes: number;
  /** Makes one synchronous change of the index durable (`IndexWrites.durably`). */
  durably<T>(change: () => T, size: ChangeSize): Promise<T>;
  now(): number;
  /** Bytes a user may store; 0: no quota. */
  quotaOf(userId: number): number;
  /** Whether a user is append-only now: forgetting a snapshot is refused. */
  appendOnlyOf(userId: number): boolean;
  /** Awaited at each step of a commit; crash tests stop the process there. */
  onCommitStep?(step: SnapshotCommitStep): void | Promise<void>;
  /** A run of garbage collection that starts now (`EmbeddedStorage.collectGarbageNow`). */
  collectGarbageNow(): Promise<GarbageCollectionReport[]>;
}

/** See the module comment. */
export class EmbeddedSnapshotStore implements SnapshotRepository {
  readonly #ctx: SnapshotStoreContext;
  readonly #catalog: SnapshotCatalog;
  readonly #open = new Set<SnapshotSession>();
  readonly #pruneGate: PruneGate;
  /** The packs the blob readers of open connections hold: closed with the store. */
  readonly #readers = new Set<PackReaders>();
  /** Sessions closing now, by user: one opened meanwhile waits for them (`SessionContext.after`). */
  readonly #closing = new Map<number, Set<Promise<void>>>();
  readonly #keySlots: EmbeddedKeySlots;

  /** @param ctx what it works with */
  constructor(ctx: SnapshotStoreContext) {
    this.#ctx = ctx;
    this.#catalog = new SnapshotCatalog(ctx.index.chunks);
    this.#keySlots = new EmbeddedKeySlots(ctx);
    this.#pruneGate = new PruneGate(PRUNE_GAP_MS, ctx.now);
  }

  /** See `SnapshotRepository.openSession`; the session pins from now (`SessionPins`). */
  openSession(userId: number): SnapshotSession {
    const ctx = this.#ctx;
    const pin = ctx.index.chunks.sessions.open(userId, {
      sinceMs: ctx.now(),
      sinceSeq: this.#catalog.releaseSeq(),
    });
    const session: SnapshotSession = new EmbeddedSnapshotSession(
      {
        index: ctx.index,
        catalog: this.#catalog,
        store: ctx.store,
        packTargetBytes: ctx.packTargetBytes,
        packs: pin.packs,
        durably: ctx.durably,
        now: ctx.now,
        quotaOf: ctx.quotaOf,
        encrypted: () => this.#keySlots.any(userId),
        onStep: ctx.onCommitStep,
        after: this.#closing.has(userId)
          ? Promise.all(this.#closing.get(userId)!).then(() => {})
          : undefined,
        closing: (closed) => this.#trackClosing(userId, closed),
      },
      userId,
      () => {
        pin.release();
        this.#open.delete(session);
      },
    );
    this.#open.add(session);
    return session;
  }

  /** Counts a closing session of `userId` in `#closing` until it is closed. */
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

  /** See `SnapshotRepository.listSnapshots`: a page of rows per read of the index. */
  async *listSnapshots(userId: number): AsyncIterable<StoredSnapshot> {
    for (let after = 0;;) {
      const rows = this.#catalog.snapshots(userId, after, LIST_PAGE_ROWS);
      for (const { id, tree, storedMs, record } of rows) yield { id, tree, storedMs, record };
      if (rows.length < LIST_PAGE_ROWS) return;
      after = rows.at(-1)!.snapshotNo;
      await Promise.resolve(); // let other work in between pages
    }
  }

  /** See `SnapshotRepository.readBlob`. */
  readBlob(userId: number, id: Uint8Array): Promise<StoredBlob> {
    return this.#readBlob(userId, id, undefined);
  }

  /** See `SnapshotRepository.blobReader`: packs kept open (`PackReaders`) until it is closed. */
  blobReader(userId: number): BlobReader {
    const packs = new PackReaders(this.#ctx.store);
    this.#readers.add(packs);
    return {
      read: (id) => this.#readBlob(userId, id, packs),
      close: () => {
        packs.close();
        this.#readers.delete(packs);
      },
    };
  }

  async #readBlob(
    userId: number,
    id: Uint8Array,
    packs: PackReaders | undefined,
  ): Promise<StoredBlob> {
    for (let attempt = 1;; attempt++) {
      const placement = this.#catalog.placement(userId, id);
      if (!placement) throw new NoSuchBlobError(id);
      let bytes: Uint8Array;
      try {
        bytes = packs
          ? await packs.read(placement.pack, placement.offset, placement.storedLength)
          : await this.#ctx.store.get(placement.pack, {
            offset: placement.offset,
            length: placement.storedLength,
          });
      } catch (error) {
        // A repack moved the blob between the lookup and the read: look it up again.
        if (error instanceof ObjectNotFoundError && attempt < READ_ATTEMPTS) continue;
        throw error;
      }
      if (bytes.length !== placement.storedLength) {
        throw new CorruptStoreError(`pack ${placement.pack} ends inside blob ${toHex(id)}`);
      }
      return {
        kind: placement.kind,
        encoding: encodingOfCompression(placement.compression),
        rawLength: placement.rawLength,
        bytes,
      };
    }
  }

  /** See `SnapshotRepository.forgetSnapshot`. */
  async forgetSnapshot(userId: number, id: Uint8Array): Promise<void> {
    if (this.#ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`snapshot ${toHex(id)}`);
    const removed = await this.#ctx.durably(
      () => this.#ctx.index.transaction(() => this.#catalog.deleteSnapshot(userId, id)),
      { changes: 1, bytes: 0 },
    );
    if (!removed) throw new NoSuchSnapshotError(id);
    this.#pruneGate.changed();
  }

  /** See `SnapshotRepository.listKeySlots`: `key_slots.ts`. */
  listKeySlots(userId: number): Promise<Uint8Array[]> {
    return this.#keySlots.list(userId);
  }

  /** See `SnapshotRepository.addKeySlot`: `key_slots.ts`. */
  addKeySlot(userId: number, slot: Uint8Array, options?: { first?: boolean }): Promise<void> {
    return this.#keySlots.add(userId, slot, options);
  }

  /** See `SnapshotRepository.removeKeySlot`: `key_slots.ts`. */
  removeKeySlot(userId: number, slotId: Uint8Array): Promise<void> {
    return this.#keySlots.remove(userId, slotId);
  }

  /**
   * See `SnapshotRepository.prune`: `snapshot_repair.ts`; nothing to run when a run finished
   * lately and nothing was forgotten or dropped since (`PruneGate`).
   */
  async prune(userId: number): Promise<PruneReport> {
    if (this.#ctx.appendOnlyOf(userId)) {
      throw new DeleteRefusedError(`the repository of user ${userId}`);
    }
    if (!this.#pruneGate.needed()) return { bytesFreed: 0, packsRemoved: 0 };
    const generation = this.#pruneGate.generation;
    const report = await pruneNow(this.#repairContext(), userId);
    this.#pruneGate.ran(generation);
    return report;
  }

  /** See `SnapshotRepository.dropBlobs`: `snapshot_repair.ts`. */
  async dropBlobs(userId: number, ids: Uint8Array[]): Promise<Uint8Array[]> {
    const dropped = await dropDamaged(this.#repairContext(), userId, ids);
    if (dropped.length > 0) this.#pruneGate.changed();
    return dropped;
  }

  #repairContext(): SnapshotRepairContext {
    const ctx = this.#ctx;
    return {
      index: ctx.index,
      catalog: this.#catalog,
      durably: ctx.durably,
      appendOnlyOf: ctx.appendOnlyOf,
      collectGarbageNow: ctx.collectGarbageNow,
      readBlob: (userId, id) => this.readBlob(userId, id),
    };
  }

  /** Closes the sessions still open (their blobs indexed for the next run). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#open].map((session) => session.close()));
    for (const packs of this.#readers) packs.close();
    this.#readers.clear();
  }
}
