/**
 * One snapshot upload session of the embedded engine (docs/snapshots_plan.md §3). Blobs are checked
 * against their ids (a sealed one for its lengths only) and the repository's mode rule
 * (`RepositoryMode`), then written through one `PackWriter`; a pack the writer fills is indexed at
 * once, durably (its blobs unclaimed: kept for the grace period), so memory holds only the blobs of
 * packs not yet written. The commit puts the last pack, then indexes every blob left and inserts
 * the snapshot in one synchronous transaction, made durable by one fsync of the log; a referenced
 * blob the store lacks is answered instead, and nothing is committed. A session closed without a
 * commit indexes what it received, unclaimed, for the next run's `missing`; trees still waiting
 * for what they name are dropped, their bytes charged as dead bytes of their packs.
 *
 * A tree is indexed only once every blob it references is: so a tree in the index is complete (its
 * `tree_refs` keep everything below it), and the commit checks only the trees of this session that
 * are not indexed yet; and, while the user has a blob dropped as damaged (`dropBlobs`), whether the
 * snapshot reaches one: that one is answered missing until a copy heals it.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { PackWriter, type WrittenPack } from "../../repository/pack_writer.ts";
import { BLOB_OVERHEAD_BYTES } from "../quota_charge.ts";
import { LimitExceededError, QuotaExceededError } from "../errors.ts";
import {
  BlobMismatchError,
  type IncomingBlob,
  MAX_MISSING_IDS,
  RepositoryModeError,
  SessionClosedError,
  type SnapshotCommit,
  type SnapshotSession,
} from "../snapshots.ts";
import { checkBlob } from "../blob_check.ts";
import { checkSnapshotCommit, heldTreeBytes, packIds } from "../session_limits.ts";
import { PendingBlobs } from "./pending_blobs.ts";
import { keepingStored } from "../kept_packs.ts";
import { compressionOfEncoding, RepositoryMode } from "../sealed_blobs.ts";
import type { SessionContext } from "./session_context.ts";

export type { SessionContext, SnapshotCommitStep } from "./session_context.ts";

/**
 * Ids a session remembers as answered missing, at most: a client puts what it was told is missing,
 * and the put of one remembered skips the index lookup. A client that asks and
 * never puts fills it once, then puts are looked up as before.
 */
const MAX_TOLD_MISSING = 4 * 8192;

/** Thrown inside the commit's transaction to undo it: the ids the store lacks. */
class Incomplete {
  constructor(readonly missing: Uint8Array[]) {}
}

/** See the module comment. */
export class EmbeddedSnapshotSession implements SnapshotSession {
  readonly #ctx: SessionContext;
  readonly #userId: number;
  readonly #release: () => void;
  /** Blobs received and not indexed. */
  readonly #pending: PendingBlobs;
  #writer: PackWriter | undefined;
  /** How many of the writer's packs are placed (`writtenCount` then). */
  #writerPlaced = 0;
  /** Hex ids this session answered missing and has not received yet (`MAX_TOLD_MISSING`). */
  readonly #toldMissing = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** The indexing of written packs under way (`#indexBehind`); never rejects. */
  #indexing: Promise<void> = Promise.resolve();
  /** The first failure of an indexing behind: the next put or the commit throws it. */
  #indexFailure: { error: unknown } | undefined;
  /** The mode rule: sealed blobs only to an encrypted repository, and only they. */
  readonly #mode: RepositoryMode;

  /**
   * @param userId whose session
   * @param release counts the session out of garbage collection's pins
   */
  constructor(ctx: SessionContext, userId: number, release: () => void) {
    this.#ctx = ctx;
    this.#userId = userId;
    this.#release = release;
    this.#mode = new RepositoryMode(userId, () => ctx.encrypted?.() ?? false);
    this.#pending = new PendingBlobs(
      ctx.catalog,
      userId,
      ctx.packs,
      heldTreeBytes(ctx.packTargetBytes),
    );
    if (ctx.after) this.#queue = ctx.after;
  }

  /** See `SnapshotSession.missing`. */
  missing(ids: Uint8Array[]): Promise<boolean[]> {
    return this.#run(() => {
      if (ids.length > MAX_MISSING_IDS) {
        throw new LimitExceededError(`${ids.length} ids asked about, over ${MAX_MISSING_IDS}`);
      }
      return this.#ctx.index.read(() =>
        ids.map((id) => {
          const key = toHex(id);
          const missing = !this.#has(id, key);
          if (missing && this.#toldMissing.size < MAX_TOLD_MISSING) this.#toldMissing.add(key);
          return missing;
        })
      );
    });
  }

  /** See `SnapshotSession.put`. */
  put(blob: IncomingBlob): Promise<void> {
    return this.#run(async () => {
      if (this.#indexFailure) throw this.#indexFailure.error;
      checkBlob(blob);
      await this.#mode.check(blob.encoding);
      const key = toHex(blob.id);
      // Told missing a moment ago: not looked up in the index again. Another session of the user
      // may have stored it since, as it may between a lookup and this session's indexing anyway:
      // the index keeps one copy (`indexBlob`), the other is dead space in its pack.
      if (this.#toldMissing.delete(key) ? this.#pending.has(key) : this.#has(blob.id, key)) return;
      const refs = blob.kind === "tree" ? packIds(blob.refs ?? []) : undefined;
      this.#pending.roomFor(refs);
      const charge = blob.bytes.length + BLOB_OVERHEAD_BYTES;
      const quota = this.#ctx.quotaOf(this.#userId);
      if (quota > 0) {
        const wouldUse = this.#ctx.index.usage(this.#userId) + this.#pending.chargedBytes + charge;
        if (wouldUse > quota) throw new QuotaExceededError(this.#userId, wouldUse, quota);
      }
      // Unless handed over, the caller may reuse its buffer once this resolves (the write is behind).
      const stored = blob.handedOver ? blob.bytes : blob.bytes.slice();
      const compression = compressionOfEncoding(blob.encoding);
      // A stored pack may be indexed behind already: a writer failing later must not delete it.
      if (!this.#writer) {
        this.#writer = new PackWriter(keepingStored(this.#ctx.store, () => {}), {
          targetBytes: this.#ctx.packTargetBytes,
        });
        this.#writerPlaced = 0;
      }
      await this.#writer.add(blob.id, { stored, compression }, blob.rawLength);
      this.#pending.add({
        id: blob.id.slice(),
        kind: blob.kind,
        storedLength: stored.length,
        rawLength: blob.rawLength,
        compression,
        refs,
      }, key);
      if (this.#writer.writtenCount > this.#writerPlaced) {
        this.#writerPlaced = this.#writer.writtenCount;
        this.#pending.place(this.#writer.written);
        this.#indexBehind();
      }
    });
  }

  /** See `SnapshotSession.commit`. */
  commit(snapshot: SnapshotCommit): Promise<{ missing: Uint8Array[] }> {
    return this.#run(async () => {
      checkSnapshotCommit(snapshot);
      await this.#indexed();
      await this.#finishPacks();
      await this.#ctx.onStep?.("packs-durable");
      try {
        await this.#ctx.durably(() => this.#commitNow(snapshot), { changes: 1, bytes: 0 });
      } catch (error) {
        if (error instanceof Incomplete) return { missing: error.missing };
        throw error;
      }
      await this.#ctx.onStep?.("durable");
      return { missing: [] };
    });
  }

  /** See `SnapshotSession.close`. */
  close(): Promise<void> {
    if (this.#closed) return this.#queue.then(() => {}, () => {});
    this.#closed = true;
    const closing = this.#queue.catch(() => {}).then(async () => {
      try {
        await this.#indexing;
        await this.#finishPacks();
        if (this.#pending.waiting) {
          await this.#ctx.durably(() => this.#index({ dropRest: true }), {
            changes: 1,
            bytes: 0,
          });
        }
      } finally {
        // Trees whose references never came are dropped (the next run's `missing` asks again);
        // their bytes are dead space in their packs, charged until garbage collection reclaims it.
        this.#pending.clear();
        this.#toldMissing.clear();
        this.#release();
      }
    });
    this.#queue = closing.catch(() => {});
    this.#ctx.closing?.(this.#queue as Promise<void>);
    return closing;
  }

  /** Whether the user has the blob (hex id `key`), indexed or received by this session. */
  #has(id: Uint8Array, key: string): boolean {
    return this.#pending.has(key) ||
      this.#ctx.catalog.blobNo(this.#userId, id) !== undefined;
  }

  /** Runs `work` after the session's calls before it; refused once the session is closed. */
  #run<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new SessionClosedError());
    const result = this.#queue.then(work);
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * Indexes the blobs of the packs written so far, behind the puts that follow: the index's fsync
   * (tens of milliseconds on a busy disk) no longer holds up the session's queue, so the next
   * blobs are checked and written meanwhile. The change itself runs in order, once the writes
   * queued before it are applied (one at a time per session), and is as durable as before by
   * the time anything relies on it: the commit and the close wait for it first, and the log is
   * written in order, so the commit's own fsync covers it anyway. A failure is kept for the next
   * put and the commit.
   */
  #indexBehind(): void {
    this.#indexing = this.#indexing.then(async () => {
      if (this.#indexFailure) return;
      try {
        await this.#ctx.onStep?.("pack-indexing");
        await this.#ctx.durably(() => this.#index(), { changes: 1, bytes: 0 });
      } catch (error) {
        this.#indexFailure ??= { error };
      }
    });
  }

  /** Waits for the indexing behind; throws its failure, if any. */
  async #indexed(): Promise<void> {
    await this.#indexing;
    if (this.#indexFailure) throw this.#indexFailure.error;
  }

  /** Puts the last pack (if any) and waits for every pack's commit; placements become known. */
  async #finishPacks(): Promise<void> {
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = undefined;
    let packs: WrittenPack[];
    try {
      packs = await writer.finish();
    } catch (error) {
      // The packs this writer failed to put go with it; those stored stay (`keepingStored`),
      // their blobs placed: indexed already, or at the close.
      await writer.abort();
      this.#pending.place(writer.written);
      this.#pending.forgetUnplaced();
      throw error;
    }
    this.#pending.place(packs);
  }

  /**
   * Indexes what can be, in a transaction, applied to the session's state once it committed. With
   * `dropRest` (the close), the placed blobs it could not index are charged as their packs' dead
   * bytes in the same transaction: the session drops them.
   */
  #index(options: { dropRest?: boolean } = {}): void {
    const indexed = this.#ctx.index.transaction(() => {
      const indexed = this.#pending.indexNow(this.#ctx.now());
      if (options.dropRest) this.#pending.chargeDropped(new Set(indexed));
      return indexed;
    });
    this.#pending.applyIndexed(indexed);
  }

  /**
   * The commit's synchronous step: index, check the root, insert the snapshot, check the quota.
   *
   * @throws {Incomplete} (the transaction undone) if a referenced blob is missing.
   */
  #commitNow(snapshot: SnapshotCommit): void {
    const { index, catalog } = this.#ctx;
    const nowMs = this.#ctx.now();
    const quota = this.#ctx.quotaOf(this.#userId);
    const before = quota > 0 ? index.usage(this.#userId) : 0;
    const indexed = index.transaction(() => {
      const indexed = this.#pending.indexNow(nowMs);
      const treeNo = catalog.blobNo(this.#userId, snapshot.tree);
      if (treeNo === undefined) {
        const missing = this.#pending.missingBelow(snapshot.tree);
        if (missing.length > 0) throw new Incomplete(missing);
        throw new BlobMismatchError(
          `tree ${toHex(snapshot.tree)}`,
          "its references form a cycle, which no honest ids can",
        );
      }
      // The mode at the commit, in its transaction: a session that began before the first key
      // slot (or the last plain blob of one) cannot make a plain snapshot in an encrypted
      // repository, nor the reverse.
      const encrypted = this.#ctx.encrypted?.() ?? false;
      if (catalog.sealed(treeNo) !== encrypted) {
        throw new RepositoryModeError(this.#userId, encrypted);
      }
      // A blob dropped as damaged leaves what names it indexed: a snapshot that reaches it waits
      // for its copy (the look below runs only while the user has one unhealed).
      if (catalog.anyDamaged(this.#userId)) {
        const damaged = catalog.damagedBelow(treeNo, MAX_MISSING_IDS);
        if (damaged.length > 0) throw new Incomplete(damaged);
      }
      catalog.insertSnapshot(this.#userId, { ...snapshot, treeNo }, nowMs);
      if (quota > 0) {
        const after = index.usage(this.#userId);
        if (after > quota && after > before) {
          throw new QuotaExceededError(this.#userId, after, quota);
        }
      }
      return indexed;
    });
    this.#pending.applyIndexed(indexed);
  }
}
