/**
 * One garbage-collection run of packs on a shared bucket (docs/s3_repository_plan.md §3.3), inside
 * `S3Storage.prune()` after retention:
 *
 * 1. take the prune lock (`gc_lock.ts`; a server that does not get it does nothing more); μ is
 *    the store's time then;
 * 3. **mark**: LIST `g/pins/` (and GET each), **then** LIST `u/` and GET every `c` record's chunk
 *    list, then LIST `g/doomed/` and `p/`. Pins come first: an upload deletes its pin only after
 *    its record is stored, so a pin this mark missed belongs to a record it lists;
 * 4. **sweep**: delete the packs of tombstones at least G old that this mark found unreferenced
 *    and unpinned (`planGc`);
 * 5. **doom**: PUT `g/doomed/RUN` with the packs at least G old that nothing protects;
 * 6. **index**: PUT `x/USER/gc.RUN.N` (every chunk the mark found live, one place each), signed
 *    with the mark's start (a run paused past the store's skew cannot land a stale index), then
 *    DELETE every other `x/` object older than μ: their records were all listed by this mark;
 * 7. DELETE the swept tombstones (now that no index names their packs) and the stale pins.
 *
 * `ensureHeld()` comes before each destructive batch; a run that fails stops where it is (a later
 * run redoes what is left: every step is idempotent). Why no pack a record or a live pin names is
 * ever deleted: §3.4 of the plan. The mark never guesses: a list or pin it cannot read stops the
 * run before anything is deleted.
 *
 * Memory: the mark holds each user's live chunk entries (48 bytes per chunk reference) until its
 * index object is written.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import {
  CHUNK_ENTRY_BYTES,
  chunkAt,
  type ChunkTable,
  ChunkTableBuilder,
  compareIds,
  decodeChunkTable,
  encodeChunkTable,
  packIndexAt,
  sortedById,
} from "./chunk_list.ts";
import { systemClock } from "./gc_clock.ts";
import { type GcLock, tryLock } from "./gc_lock.ts";
import {
  decodePin,
  decodeTombstone,
  encodeTombstone,
  pinsPrefix,
  randomId,
  tombstonesPrefix,
} from "./gc_objects.ts";
import {
  DEFAULT_GRACE_MS,
  DEFAULT_PIN_STALE_MS,
  type GcMark,
  type Listed,
  planGc,
} from "./gc_plan.ts";
import { histories } from "./histories.ts";
import { recordsRoot } from "./keys.ts";
import type { ChunkGcReport, ChunkGcStep, S3GcOptions } from "./options.ts";

/** Where a run works. */
export interface ChunkGcContext {
  client: S3Client;
  /** The store's key prefix. */
  prefix: string;
  /** This server (written in its lock object). */
  owner: string;
  gc: S3GcOptions;
  /** Told of failures that do not stop the run (a lock refresh, the lock's release). */
  onError?: (error: unknown) => void;
}

/** Index entries per index object (as deltas: restic's `indexMaxBlobs`). */
const INDEX_MAX_ENTRIES = 50_000;
/** GETs and DELETEs at once. */
const IN_FLIGHT = 8;

/**
 * Runs one GC if this server gets the prune lock; see the module comment.
 *
 * @returns what it did (`held: false` if another server holds the lock).
 * @throws {S3Error} if the store failed a request, {CorruptStoreError} if a chunk list, pin or
 *   tombstone does not decode, {GcLockLostError} if the lock was lost before a destructive batch.
 */
export async function runChunkGc(ctx: ChunkGcContext): Promise<ChunkGcReport> {
  const report: ChunkGcReport = {
    held: false,
    lists: 0,
    deletedPacks: 0,
    doomedPacks: 0,
    indexWritten: 0,
    indexDeleted: 0,
    tombstonesDeleted: 0,
    pinsDeleted: 0,
  };
  const { gc } = ctx;
  const durations = {
    settleMs: gc.lockSettleMs,
    refreshMs: gc.lockRefreshMs,
    refreshableMs: gc.lockRefreshableMs,
    staleMs: gc.lockStaleMs,
    clock: gc.clock,
  };
  const lock = await tryLock({
    client: ctx.client,
    prefix: ctx.prefix,
    owner: ctx.owner,
    // Unset durations take the lock's defaults.
    ...Object.fromEntries(Object.entries(durations).filter(([, value]) => value !== undefined)),
    onRefreshError: ctx.onError,
  });
  if (!lock) return report;
  report.held = true;
  try {
    await collect(ctx, lock, report);
  } finally {
    await lock.release().catch(ctx.onError ?? (() => {}));
  }
  gc.onReport?.(report);
  return report;
}

async function collect(ctx: ChunkGcContext, lock: GcLock, report: ChunkGcReport): Promise<void> {
  const { client, prefix, gc } = ctx;
  const step = async (name: ChunkGcStep) => await gc.onStep?.(name, report);
  const markMs = lock.storeTimeMs;
  // The index of step 6 is signed now: it names what the mark finds live from here on.
  const markSignedAt = (gc.clock ?? systemClock).now();
  const pins = await readAll(client, prefix, pinsPrefix(prefix), decodePin);
  const { referenced, live, lists } = await markRecords(client, prefix);
  report.lists = lists;
  const tombstones = (await readAll(client, prefix, tombstonesPrefix(prefix), decodeTombstone))
    .map(({ value, ...listed }) => ({ ...listed, packs: value }));
  const packs = await listed(client, prefix, `${prefix}p/`);
  const mark: GcMark = {
    markMs,
    referenced,
    pins: pins.map(({ value, ...listed }) => ({ ...listed, pin: value })),
    tombstones,
    packs,
    graceMs: gc.graceMs ?? DEFAULT_GRACE_MS,
    pinStaleMs: gc.pinStaleMs ?? DEFAULT_PIN_STALE_MS,
  };
  const plan = planGc(mark);
  await step("marked");

  // Step 4.
  await inBatches(plan.deletePacks, lock, (pack) => client.delete(prefix + pack));
  report.deletedPacks = plan.deletePacks.length;
  await step("swept");

  // Step 5.
  if (plan.doom.length > 0) {
    lock.ensureHeld();
    await client.put(`${tombstonesPrefix(prefix)}${randomId()}`, encodeTombstone(plan.doom));
    report.doomedPacks = plan.doom.length;
  }
  await step("doomed");

  // Step 6: the consolidated index objects, then every other index object older than μ.
  const run = randomId();
  const written = new Set<string>();
  // Not the packs of any tombstone this mark read, even those it spares: a run paused before this
  // PUT must not land an index naming a pack that a later run sweeps (the tombstone would then be
  // gone from the views that filter it). A tombstone written after this mark is G younger than the
  // signature of this PUT, which the store refuses once F late.
  const inTombstones = new Set(tombstones.flatMap(({ packs }) => packs));
  for (const [userId, table] of live) {
    const bodies = indexBodies(
      withoutPacks(table, (pack) => inTombstones.has(`p/${userId}/${pack}`)),
    );
    for (const [i, body] of bodies.entries()) {
      const key = `${prefix}x/${userId}/gc.${run}.${i + 1}`;
      lock.ensureHeld();
      await client.put(key, body, { signedAt: markSignedAt });
      written.add(key);
    }
  }
  report.indexWritten = written.size;
  // Deleting an index object is always safe (they are hints); a delta younger than μ is kept
  // only because this mark may have missed its record. Earlier runs' objects name nothing the
  // mark did not see.
  const older = (await listed(client, "", `${prefix}x/`)).filter(({ key, lastModifiedMs }) =>
    !written.has(key) && (lastModifiedMs < markMs || /\/gc\.[0-9a-f]{16}\.\d+$/.test(key))
  );
  await inBatches(older.map(({ key }) => key), lock, (key) => client.delete(key));
  report.indexDeleted = older.length;
  await step("indexed");

  // Step 7, last: no index object names the swept tombstones' packs any more.
  await inBatches(plan.sweptTombstones, lock, (key) => client.delete(prefix + key));
  report.tombstonesDeleted = plan.sweptTombstones.length;
  await inBatches(plan.stalePins, lock, (key) => client.delete(prefix + key));
  report.pinsDeleted = plan.stalePins.length;
}

/**
 * Every `c` record's chunk list: the packs they name (`p/USER/NAME`) and, per user, the live
 * chunks (one place each, sorted by id).
 */
async function markRecords(client: S3Client, prefix: string) {
  const chunked: { userId: number; key: string }[] = [];
  const root = recordsRoot(prefix);
  for await (const history of histories(client, root, root)) {
    for (const record of history.records) {
      if (record.fields.kind === "file" && record.fields.chunks) {
        chunked.push({ userId: history.userId, key: record.key });
      }
    }
  }
  const referenced = new Set<string>();
  const builders = new Map<number, ChunkTableBuilder>();
  await inParallel(chunked, async ({ userId, key }) => {
    const bytes = await getOrGone(client, key);
    // Deleted since the LIST (retention on some server): it protects nothing any more.
    if (!bytes) return;
    const list = decodeChunkTable("list", bytes);
    for (const pack of list.packs) referenced.add(`p/${userId}/${pack}`);
    let builder = builders.get(userId);
    if (!builder) builders.set(userId, builder = new ChunkTableBuilder());
    for (let i = 0; i < list.count; i++) builder.add(chunkAt(list, i));
  });
  const live = new Map<number, ChunkTable>();
  for (const [userId, builder] of builders) live.set(userId, distinctById(builder.table()));
  return { referenced, live, lists: chunked.length };
}

/** `table` sorted by id, each id once. */
function distinctById(table: ChunkTable): ChunkTable {
  const sorted = sortedById(table);
  const entries = sorted.entries;
  let out = 0;
  for (let at = 0; at < sorted.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
    if (out > 0 && compareIds(entries, out - CHUNK_ENTRY_BYTES, entries, at) === 0) continue;
    if (out !== at) entries.copyWithin(out, at, at + CHUNK_ENTRY_BYTES);
    out += CHUNK_ENTRY_BYTES;
  }
  return { packs: sorted.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** `table` without the entries whose pack `dropped` says. */
function withoutPacks(table: ChunkTable, dropped: (pack: string) => boolean): ChunkTable {
  const drop = table.packs.map(dropped);
  if (!drop.includes(true)) return table;
  const entries = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
  let out = 0;
  for (let at = 0; at < table.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
    if (drop[packIndexAt(table.entries, at)]) continue;
    entries.set(table.entries.subarray(at, at + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
  }
  return { packs: table.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** BKIDX001 bodies of `table`, `INDEX_MAX_ENTRIES` entries each. */
function indexBodies(table: ChunkTable): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  for (let from = 0; from < table.count; from += INDEX_MAX_ENTRIES) {
    const count = Math.min(INDEX_MAX_ENTRIES, table.count - from);
    const entries = table.entries.subarray(
      from * CHUNK_ENTRY_BYTES,
      (from + count) * CHUNK_ENTRY_BYTES,
    );
    bodies.push(encodeChunkTable("index", { packs: table.packs, entries, count }));
  }
  return bodies;
}

/** The objects under `listPrefix`, their keys made relative to `prefix`. */
async function listed(client: S3Client, prefix: string, listPrefix: string): Promise<Listed[]> {
  const objects: Listed[] = [];
  for await (const page of client.list(listPrefix)) {
    for (const { key, lastModifiedMs } of page) {
      objects.push({ key: key.slice(prefix.length), lastModifiedMs });
    }
  }
  return objects;
}

/** Each object under `listPrefix`, decoded (those deleted since the LIST are passed over). */
async function readAll<T>(
  client: S3Client,
  prefix: string,
  listPrefix: string,
  decode: (bytes: Uint8Array) => T,
): Promise<(Listed & { value: T })[]> {
  const read: (Listed & { value: T })[] = [];
  await inParallel(await listed(client, prefix, listPrefix), async (object) => {
    const bytes = await getOrGone(client, prefix + object.key);
    if (bytes) read.push({ ...object, value: decode(bytes) });
  });
  return read;
}

async function getOrGone(client: S3Client, key: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await (await client.get(key)).arrayBuffer());
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** Runs `work` on every item, `IN_FLIGHT` at once; the first failure stops the rest. */
async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, worker));
}

/** A destructive step, `IN_FLIGHT` requests at a time, the lock checked before each batch. */
async function inBatches(
  keys: readonly string[],
  lock: GcLock,
  remove: (key: string) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < keys.length; i += IN_FLIGHT) {
    lock.ensureHeld();
    await Promise.all(keys.slice(i, i + IN_FLIGHT).map(remove));
  }
}
