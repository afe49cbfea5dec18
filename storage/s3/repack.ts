/**
 * Repack (docs/s3_repository_plan.md §3.6), inside a GC run between its sweep and its doom: the
 * packs `planGc` picked (live share under `repackBelow`, at least G old, in no tombstone, not
 * pinned) have their live chunks copied into new packs, the records naming them rewritten to name
 * the copies, and are then doomed by the run like any unreferenced pack: deleted by a later run's
 * sweep, at least G later, if its fresh mark finds nothing naming them.
 *
 * Per user, as an upload would (rules W2, W3 and W5 of §3.2):
 *
 * 1. **copy**: a session of its own with an `UploadPin` (its new packs `p/USER/SESSION.N` are
 *    young and covered by the pin); each old pack's live chunks (from the mark) read by ranged
 *    GETs, each checked against its id, then added to a `PackWriter` as stored (no recompression).
 *    A pack that is gone (another run swept it) or damaged is left as it is (`onError` is told);
 * 2. **rewrite**: each `c` record the mark found naming a copied pack is read again (deleted by
 *    retention since: skipped) and PUT again under the same key, its entries in copied packs
 *    pointing at the copies, signed at the time the pin allows (W3). A PUT that fails stops the
 *    run: the record holds the old list or the new one, and both packs exist;
 * 3. **index**: one delta `x/USER/SESSION.N` of the copies, signed with the first record's time
 *    (W5), after the records (an index never names a pack no record named);
 * 4. retention is applied again to each rewritten name (`reprune`): a record that retention
 *    deleted between the GET and the PUT would otherwise come back as a past version.
 *
 * A run that fails before any record PUT deletes its new packs (no record, no index names them);
 * after one, they stay and later runs collect what nothing names. Why nothing is lost: §3.4 (the
 * new packs are an upload's own, case 1; the old ones are doomed as any, cases 2-4).
 *
 * Memory: one old pack's live bytes, and the writer's packs (two at most: `putsInFlight` 1).
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import { CorruptStoreError } from "../storage.ts";
import {
  chunkAt,
  ChunkTableBuilder,
  decodeChunkTable,
  encodeChunkTable,
  sortedById,
} from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import type { GcLock } from "./gc_lock.ts";
import { indexBodies, type MarkedRecord, type RecordsMark } from "./gc_mark.ts";
import { getOrGone, inParallel } from "./gc_requests.ts";
import { indexFolder, packsFolder, parseRecordKey, userRecordsPrefix } from "./keys.ts";
import type { ChunkGcReport, ChunkGcStep, S3GcOptions } from "./options.ts";
import { openRepackSession, readLive, type RepackSession } from "./repack_copy.ts";

/** What a repack works with: the run's. */
export interface RepackContext {
  client: S3Client;
  /** The store's key prefix. */
  prefix: string;
  gc: S3GcOptions;
  /** Checked before each record PUT. */
  lock: GcLock;
  /** The run's mark of the records. */
  mark: RecordsMark;
  /** New packs are cut at this size. */
  packTargetBytes: number;
  /** The run's report: `copiedChunks` and `rewrittenRecords` are counted in it. */
  report: ChunkGcReport;
  /** Awaited after the copies (`repacked`) and after the records (`rewritten`). */
  step(name: ChunkGcStep): Promise<void>;
  /** Applies retention to one name again (`S3Storage`'s; none: skipped). */
  reprune?(userId: number, name: string): Promise<void>;
  /** Told of a pack left as it is (gone, damaged) and of a delta or reprune that failed. */
  onError(error: unknown): void;
}

/** One user's part of a repack. */
interface UserRepack extends RepackSession {
  userId: number;
  /** Chunk ids (hex) given to the writer. */
  adding: Set<string>;
  /** Old packs (relative to `p/USER/`) whose every live chunk was copied. */
  copied: Set<string>;
  /** Chunk id (hex) → its copy. */
  copies: Map<string, ChunkLocation>;
  /** Old packs a record still names (a chunk of it was not copied). */
  kept: Set<string>;
  /** Names of the records rewritten (for `reprune`). */
  names: Set<string>;
  /** The first record PUT's signature time; set once a record PUT was sent. */
  signedAt?: number;
}

/**
 * Repacks `packs` (`p/USER/NAME`); see the module comment.
 *
 * @returns the old packs to doom: every live chunk copied, no record the mark read names them.
 * @throws {S3Error} if the store failed a request, {GcLockLostError} if the lock was lost before a
 *   record PUT, {PinRefreshError} if the session's pin could not be kept, {CorruptStoreError} if a
 *   record's list no longer decodes.
 */
export async function repackPacks(ctx: RepackContext, packs: readonly string[]) {
  const store = new S3ObjectStore({ client: ctx.client, prefix: ctx.prefix });
  const jobs: UserRepack[] = [];
  try {
    for (const [userId, names] of byUser(packs)) {
      const job = start(ctx, store, userId);
      jobs.push(job);
      await copyUser(ctx, store, job, names);
    }
    await ctx.step("repacked");
    const jobOf = new Map(jobs.map((job) => [job.userId, job]));
    const affected = ctx.mark.records.filter(({ userId, packs }) => {
      const job = jobOf.get(userId);
      return job && packs.some((pack) => job.copied.has(pack.slice(packsFolder(userId).length)));
    });
    await inParallel(affected, (record) => rewrite(ctx, jobOf.get(record.userId)!, record));
    await ctx.step("rewritten");
  } catch (error) {
    // Before any record PUT, nothing names the new packs: they go. After one, they stay.
    for (const job of jobs) if (job.signedAt === undefined) await job.writer.abort();
    throw error;
  } finally {
    await Promise.all(jobs.map((job) => job.pin.end()));
  }
  const doom: string[] = [];
  for (const job of jobs) {
    if (job.signedAt === undefined) {
      await job.writer.abort(); // every record gone since the mark: the copies are nobody's
    } else {
      await putDelta(ctx, job).catch(ctx.onError);
    }
    for (const name of job.names) await ctx.reprune?.(job.userId, name).catch(ctx.onError);
    const folder = packsFolder(job.userId);
    for (const pack of job.copied) if (!job.kept.has(pack)) doom.push(folder + pack);
  }
  return doom;
}

/** `packs` grouped by user, names relative to the user's folder. */
function byUser(packs: readonly string[]): Map<number, Set<string>> {
  const users = new Map<number, Set<string>>();
  for (const pack of packs) {
    const [, user, name] = pack.split("/");
    const userId = Number(user);
    if (!users.has(userId)) users.set(userId, new Set());
    users.get(userId)!.add(name);
  }
  return users;
}

/** A user's job: its session first (`openRepackSession`: the pin before any pack PUT, W2). */
function start(ctx: RepackContext, store: S3ObjectStore, userId: number): UserRepack {
  return {
    userId,
    ...openRepackSession(ctx, store, userId),
    adding: new Set(),
    copied: new Set(),
    copies: new Map(),
    kept: new Set(),
    names: new Set(),
  };
}

/** Copies the live chunks of the user's packs `names`, then learns where the copies are. */
async function copyUser(
  ctx: RepackContext,
  store: S3ObjectStore,
  job: UserRepack,
  names: ReadonlySet<string>,
) {
  const placed = ctx.mark.byPlace.get(job.userId);
  const chunks = new Map<string, ChunkLocation[]>();
  for (let i = 0; placed && i < placed.count; i++) {
    const chunk = chunkAt(placed, i);
    if (!names.has(chunk.pack)) continue;
    if (!chunks.has(chunk.pack)) chunks.set(chunk.pack, []);
    chunks.get(chunk.pack)!.push(chunk); // by offset: `byPlace` is sorted so
  }
  for (const [name, live] of chunks) await copyPack(ctx, store, job, name, live);
  const folder = packsFolder(job.userId);
  for (const pack of await job.writer.finish()) {
    const name = pack.name.slice(folder.length);
    for (const blob of pack.blobs) job.copies.set(toHex(blob.id), { ...blob, pack: name });
  }
  ctx.report.copiedChunks += job.copies.size;
}

/** Reads one old pack's live chunks, checks each, then hands those not copied yet to the writer. */
async function copyPack(
  ctx: RepackContext,
  store: S3ObjectStore,
  job: UserRepack,
  name: string,
  live: ChunkLocation[],
) {
  const object = packsFolder(job.userId) + name;
  const read = await readLive(store, object, live);
  if (read.kind === "gone") return; // swept by another run: nothing to move
  if (read.kind === "damaged") {
    const { chunk } = read;
    ctx.onError(
      new CorruptStoreError(
        `repack: chunk ${
          toHex(chunk.id)
        } of ${object} at ${chunk.offset} is damaged; the pack stays`,
      ),
    );
    return;
  }
  for (const { chunk, stored } of read.checked) {
    const hex = toHex(chunk.id);
    if (job.adding.has(hex)) continue; // the same chunk, live in another old pack too
    job.adding.add(hex);
    await job.writer.add(chunk.id, { stored, compression: chunk.compression }, chunk.rawLength);
  }
  job.copied.add(name);
}

/** Reads `record` again and PUTs it back naming the copies (unless gone or unchanged). */
async function rewrite(ctx: RepackContext, job: UserRepack, record: MarkedRecord) {
  const bytes = await getOrGone(ctx.client, record.key);
  if (!bytes) return; // deleted by retention since the mark
  const list = decodeChunkTable("list", bytes);
  const builder = new ChunkTableBuilder();
  let moved = 0;
  for (let i = 0; i < list.count; i++) {
    const chunk = chunkAt(list, i);
    const copy = job.copied.has(chunk.pack) ? job.copies.get(toHex(chunk.id)) : undefined;
    if (copy) moved++;
    // A chunk the mark did not see live there (the record changed since): its pack stays.
    else if (job.copied.has(chunk.pack)) job.kept.add(chunk.pack);
    builder.add(copy ?? chunk);
  }
  if (moved === 0) return;
  ctx.lock.ensureHeld();
  const signedAt = await job.pin.signRecordAt();
  job.signedAt ??= signedAt;
  await ctx.client.put(record.key, encodeChunkTable("list", builder.table()), { signedAt });
  ctx.report.rewrittenRecords++;
  const rest = record.key.slice(userRecordsPrefix(ctx.prefix, job.userId).length);
  job.names.add(parseRecordKey(rest).name);
}

/** The index delta of the user's copies, `x/USER/SESSION.N`, signed as its first record (W5). */
async function putDelta(ctx: RepackContext, job: UserRepack) {
  const builder = new ChunkTableBuilder();
  for (const copy of job.copies.values()) builder.add(copy);
  const bodies = indexBodies(sortedById(builder.table()));
  for (const [i, body] of bodies.entries()) {
    const key = `${ctx.prefix}${indexFolder(job.userId)}${job.session}.${i + 1}`;
    await ctx.client.put(key, body, { signedAt: job.signedAt });
  }
}
