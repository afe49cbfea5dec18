/**
 * One snapshot upload session on the S3 repository (docs/snapshots_plan.md §7). Blobs are checked
 * against their ids (a sealed one for its lengths only) and the repository's mode rule
 * (`RepositoryMode`: one LIST of the user's key slots at the first put), and written through one
 * `PackWriter` into `p/USER/SESSION.N` (`session_packs.ts`). A flush PUTs, in this order, the
 * references of the trees it indexes (`t/USER/SESSION.N`), then its index object
 * (`x/USER/snap.SESSION.N`, BKIDX002): behind the puts each time one of the session's packs is
 * stored (`snapshot_flushes.ts`: a server killed mid-run loses only the packs not indexed yet), at
 * the commit, and at the close for the next run. The commit then PUTs the snapshot
 * `s/USER/STOREDMS.ID` last. A tree is indexed only once all it names is stored, so a tree an index
 * names is complete, and the commit checks only the trees of this session not indexed yet.
 *
 * Garbage collection's writer rules (docs/s3_repository_plan.md §3.2) hold as for chunked uploads:
 * a blob is answered present from the cache only while the tombstone view is fresh and spares its
 * pack (W1), and its pack then joins the session's pin (W2), which also covers the session's own
 * packs; the flush's objects and the snapshot are signed at the time the pin allows (W3, W5).
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { LimitExceededError } from "../errors.ts";
import { VERSION_OVERHEAD_BYTES } from "../quota_charge.ts";
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
import { encodeChunkTable } from "./chunk_list.ts";

import { packsFolder } from "./keys.ts";

import {
  encodeSnapshot,
  sessionObjects,
  snapshotKey,
  snapshotsFolder,
} from "./snapshot_objects.ts";
import { FlushChain, flushObjects, nextTurn } from "./snapshot_flushes.ts";
import { keepingStored } from "../kept_packs.ts";
import { compressionOfEncoding, RepositoryMode } from "../sealed_blobs.ts";
import { PendingBlobs } from "./snapshot_pending.ts";
import { droppedBelow } from "./snapshot_reach.ts";
import { DoomViewStaleError } from "./doom_view.ts";
import type { S3SessionContext } from "./snapshot_session_context.ts";
import { SessionPacks } from "./session_packs.ts";

export type { S3SessionContext } from "./snapshot_session_context.ts";

/** See the module comment. */
export class S3SnapshotSession implements SnapshotSession {
  readonly #ctx: S3SessionContext;
  readonly #folder: string;
  readonly #pending: PendingBlobs;
  /** The session's pack writer and the placing of what it stored. */
  readonly #packs: SessionPacks;
  /** Flushes made (each names its objects `SESSION.N`). */
  #flushCount = 0;
  /** Every flush runs in it, one at a time; see `snapshot_flushes.ts`. */
  readonly #flushes = new FlushChain(() => this.#flush());
  #queue: Promise<unknown>;
  #closed = false;
  /** The mode rule: sealed blobs only to an encrypted repository, and only they. */
  readonly #mode: RepositoryMode;

  /** @param ctx what it works with; the pin has started */
  constructor(ctx: S3SessionContext) {
    this.#ctx = ctx;
    this.#mode = new RepositoryMode(ctx.userId, () => ctx.encrypted?.() ?? false);
    this.#folder = packsFolder(ctx.userId);
    this.#pending = new PendingBlobs(this.#folder, heldTreeBytes(ctx.packTargetBytes));
    // A drop record another server wrote since this one's last refresh counts from this session.
    this.#queue = (ctx.after ?? Promise.resolve()).then(() => ctx.blobs.refreshDrops(ctx.userId));
    // A pack stored: its blobs are indexed behind the puts that follow, once the writer has
    // recorded where they are (a turn later).
    this.#packs = new SessionPacks({
      packStore: keepingStored(ctx.packStore, () => void this.#flushes.behind(nextTurn)),
      pending: this.#pending,
      targetBytes: ctx.packTargetBytes,
      namePrefix: `${this.#folder}${ctx.session}.`,
    });
  }

  /** See `SnapshotSession.missing`. */
  missing(ids: Uint8Array[]): Promise<boolean[]> {
    return this.#run(async () => {
      if (ids.length > MAX_MISSING_IDS) {
        throw new LimitExceededError(`${ids.length} ids asked about, over ${MAX_MISSING_IDS}`);
      }
      await this.#ready();
      return ids.map((id) => !this.#pending.has(toHex(id)) && !this.#stored(id));
    });
  }

  /** See `SnapshotSession.put`. */
  put(blob: IncomingBlob): Promise<void> {
    return this.#run(async () => {
      this.#flushes.throwIfFailed();
      checkBlob(blob);
      await this.#mode.check(blob.encoding);
      const key = toHex(blob.id);
      if (this.#pending.has(key)) return;
      await this.#ready();
      if (this.#stored(blob.id)) return;
      const refs = blob.kind === "tree" ? packIds(blob.refs ?? []) : undefined;
      this.#pending.roomFor(refs);
      await this.#ctx.checkQuota(this.#pending.chargedBytes + blob.bytes.length);
      this.#ctx.pin.throwIfFailed();
      const stored = blob.handedOver ? blob.bytes : blob.bytes.slice();
      const compression = compressionOfEncoding(blob.encoding);
      await this.#packs.add(blob.id, { stored, compression }, blob.rawLength);
      this.#pending.add({
        id: blob.id.slice(),
        kind: blob.kind,
        compression,
        storedLength: stored.length,
        rawLength: blob.rawLength,
        refs,
      }, key);
    });
  }

  /** See `SnapshotSession.commit`. */
  commit(snapshot: SnapshotCommit): Promise<{ missing: Uint8Array[] }> {
    return this.#run(async () => {
      checkSnapshotCommit(snapshot);
      await this.#flushes.done();
      await this.#packs.finish();
      await this.#ready();
      const stored = (id: Uint8Array) => this.#stored(id);
      const pendingRoot = this.#pending.indexable(stored).get(toHex(snapshot.tree));
      if (!pendingRoot && !stored(snapshot.tree)) {
        const missing = this.#pending.missingBelow(snapshot.tree, stored);
        if (missing.length > 0) return { missing };
        throw new BlobMismatchError(
          `tree ${toHex(snapshot.tree)}`,
          "its references form a cycle, which no honest ids can",
        );
      }
      const { userId } = this.#ctx;
      const existing = `.${toHex(snapshot.id)}`;
      for await (const { name } of this.#ctx.store.list(snapshotsFolder(userId))) {
        if (name.endsWith(existing)) {
          await this.#flushNow();
          return { missing: [] };
        }
      }
      await this.#ctx.checkQuota(
        this.#pending.chargedBytes + snapshot.record.length + VERSION_OVERHEAD_BYTES,
      );
      await this.#flushNow();
      // The root must be indexed before a snapshot names it: a cache dropped meanwhile (a doom, a
      // stale view, an eviction) made the flush pass over a tree whose references it no longer
      // found. Ready again, flushed again; still pending, what it lacks is answered missing.
      const rootKey = toHex(snapshot.tree);
      if (this.#pending.has(rootKey)) {
        await this.#ready();
        await this.#flushNow();
        if (this.#pending.has(rootKey)) {
          const missing = this.#pending.missingBelow(snapshot.tree, stored);
          if (missing.length > 0) return { missing };
          throw new DoomViewStaleError(`tree ${rootKey} could not be indexed now: commit again`);
        }
      }
      const dropped = await this.#droppedBelow(snapshot.tree);
      if (dropped.length > 0) return { missing: dropped };
      // The mode asked again (one LIST): a session begun before the first key slot makes no plain
      // snapshot after it, nor the reverse. Best effort across servers, as the slots' rules are.
      const root = pendingRoot ?? this.#ctx.blobs.lookup(userId, snapshot.tree);
      const encrypted = await (this.#ctx.encrypted?.() ?? false);
      if ((root?.compression === "sealed") !== encrypted) {
        throw new RepositoryModeError(userId, encrypted);
      }
      // Last, signed while the pin is fresh (W3): a commit paused past the store's skew lands nothing.
      const key = snapshotKey(userId, this.#ctx.now(), snapshot.id);
      await this.#ctx.put(
        key,
        encodeSnapshot(snapshot.tree, snapshot.record),
        await this.#ctx.pin.signRecordAt(),
      );
      this.#ctx.stored(snapshot.record.length + VERSION_OVERHEAD_BYTES);
      return { missing: [] };
    });
  }

  /** See `SnapshotSession.close`: what can be indexed is, for the next run's `missing`. */
  close(): Promise<void> {
    if (this.#closed) return this.#queue.then(() => {}, () => {});
    this.#closed = true;
    const closing = this.#queue.catch(() => {}).then(async () => {
      try {
        // A flush that failed before is tried again: nothing else will index what is stored.
        await this.#flushes.settle();
        let failure: { error: unknown } | undefined;
        await this.#packs.finish().catch((error) => void (failure = { error }));
        await this.#flushes.settle();
        await this.#flushNow();
        if (failure) throw failure.error;
      } finally {
        // Trees whose references never came are dropped: dead bytes of their packs, which count
        // in the user's usage as every pack does, until garbage collection removes the pack.
        this.#pending.clear();
        await this.#ctx.pin.end();
        this.#ctx.released();
      }
    });
    this.#queue = closing.catch(() => {});
    this.#ctx.closing?.(this.#queue as Promise<void>);
    return closing;
  }

  /**
   * The blobs dropped as damaged (`snapshot_drops.ts`) that the snapshot reaches and no place of is
   * stored: none looked for while the user has none (`snapshot_reach.ts`).
   */
  async #droppedBelow(root: Uint8Array): Promise<Uint8Array[]> {
    const { userId, blobs, store } = this.#ctx;
    await blobs.refreshDrops(userId);
    const unhealed = new Set(
      blobs.droppedIds(userId).filter((id) => !this.#stored(id)).map((id) => toHex(id)),
    );
    if (unhealed.size === 0) return [];
    return await droppedBelow({
      userId,
      store,
      lookup: (id) => blobs.lookup(userId, id),
      unhealed,
      refsBudgetBytes: heldTreeBytes(this.#ctx.packTargetBytes),
      limit: MAX_MISSING_IDS,
    }, root);
  }

  /** Brings the tombstone view up to date (W1), then refreshes the cache if it is due. */
  async #ready(): Promise<void> {
    // A view that cannot be refreshed makes every cached blob a miss (`#stored`).
    await this.#ctx.view.ready().catch(() => {});
    // After the view: a doom it just read made the user's reload due, which runs now (places in
    // packs no tombstone dooms first), not at the next call.
    await this.#ctx.blobs.refresh(this.#ctx.userId);
    // A first load of a large user may outlast the view's slack: brought up to date again, rather
    // than have every lookup of this call miss. The packs are then listed after it, as they must.
    if (!this.#ctx.view.fresh) await this.#ctx.view.ready().catch(() => {});
    await this.#ctx.packs.refresh();
  }

  /** Whether the user's index has the blob in a pack no tombstone dooms; the pack joins the pin. */
  #stored(id: Uint8Array): boolean {
    const found = this.#ctx.blobs.lookup(this.#ctx.userId, id);
    if (!found) return false;
    const pack = `${this.#folder}${found.pack}`;
    if (!this.#ctx.view.fresh || this.#ctx.view.isDoomed(pack)) return false;
    // A pack of this session's is there; another's must be in a list begun under this view.
    const own = found.pack.startsWith(`${this.#ctx.session}.`);
    if (!own && !this.#ctx.packs.has(pack)) return false;
    this.#ctx.pin.addPacks([pack]);
    return true;
  }

  #run<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new SessionClosedError());
    const result = this.#queue.then(work);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Flushes after the flushes queued, and waits. @throws the first failure of a flush. */
  #flushNow(): Promise<void> {
    this.#flushes.behind();
    return this.#flushes.done();
  }

  /**
   * Indexes what can be: PUTs the tree references, then the index object, and adds the blobs to
   * the cache. Nothing to index: no request. Runs only in `#flushes`, one at a time.
   */
  async #flush(): Promise<void> {
    this.#packs.placeStored();
    const ready = this.#pending.indexable((id) => this.#stored(id));
    if (ready.size === 0) return;
    const { table, refs, bytes } = flushObjects(ready.values());
    const { userId, session } = this.#ctx;
    const names = sessionObjects(userId, session, ++this.#flushCount);
    const signedAt = await this.#ctx.pin.signRecordAt();
    // The references first: a tree an index object names always has its references in `t/`.
    if (refs) await this.#ctx.put(names.refs, refs, signedAt);
    await this.#ctx.put(names.index, encodeChunkTable("blobs", table), signedAt);
    this.#ctx.blobs.add(userId, table, [names.index]);
    this.#ctx.stored(bytes);
    for (const pack of table.packs) this.#ctx.packs.add(`${this.#folder}${pack}`);
    this.#pending.indexed(ready.keys());
  }
}
