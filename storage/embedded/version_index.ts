/**
 * The index of stored files (`node:sqlite`): reads and the transactions that change it. Every method
 * is synchronous and makes its change atomically; durability is `WalSync`'s job, and removing the
 * data files a change freed is the caller's, once that change is durable.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { prepareStatements, type Statements } from "./statements.ts";
import { NoSuchFileError } from "../errors.ts";
import {
  type FileMetadata,
  NameConflictError,
  QuotaExceededError,
  ReplaceRefusedError,
} from "../storage.ts";
import { prepareIndex } from "./schema.ts";
import { ChunkCatalog } from "./chunk_catalog.ts";
import { checkpointWithoutSync, truncateLog } from "./wal_checkpoint.ts";
import { type Content, contentOf, metadataOf, type Row } from "./version_rows.ts";
import {
  type AppendOnlyOf,
  keepsNone,
  refusesReplace,
  type Retention,
  retentionFor,
} from "../retention.ts";

/** A current version found by `find`. */
export interface FoundVersion {
  metadata: FileMetadata;
  content: Content;
}

/** One upload's change: see `putEach`. */
export interface PutChange {
  userId: number;
  name: Uint8Array;
  metadata: FileMetadata;
  content: Content;
  /** Bytes the user may store in all; 0: no quota. */
  quotaBytes: number;
}

const SLASH = 0x2f;
/** A chunked version's `content` (the CHECK of schema 1 wants it or a data file). */
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** The index of one root, open on one connection. */
export class VersionIndex {
  readonly #db: DatabaseSync;
  readonly #retention: Retention;
  readonly #appendOnlyOf: AppendOnlyOf;
  readonly #sql: Statements;
  /** The chunks of chunked versions, and their packs. */
  readonly chunks: ChunkCatalog;

  /**
   * Opens (creating if needed) the index at `path`.
   *
   * @param appendOnlyOf whether a user is append-only now (see `retentionFor`); default: nobody
   * @throws {Error} if the file is not a usable index.
   */
  constructor(path: string, retention: Retention, appendOnlyOf: AppendOnlyOf = () => false) {
    this.#db = new DatabaseSync(path);
    this.#retention = retention;
    this.#appendOnlyOf = appendOnlyOf;
    try {
      prepareIndex(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#sql = prepareStatements(this.#db);
    this.chunks = new ChunkCatalog(this.#db);
  }

  /** The current version of a name with where its bytes are, or `undefined`. */
  find(userId: number, name: Uint8Array): FoundVersion | undefined {
    const row = this.#sql.find.get(userId, name) as Row | undefined;
    return row && { metadata: metadataOf(row), content: contentOf(row) };
  }

  /** The version `versionId` of a name (current or past) with where its bytes are, or `undefined`. */
  findVersion(userId: number, name: Uint8Array, versionId: number): FoundVersion | undefined {
    const row = this.#sql.findVersion.get(versionId, userId, name) as Row | undefined;
    return row && { metadata: metadataOf(row), content: contentOf(row) };
  }

  /** The current version's metadata, or `undefined`. */
  stat(userId: number, name: Uint8Array): FileMetadata | undefined {
    const row = this.#sql.findMetadata.get(userId, name) as Row | undefined;
    return row && metadataOf(row);
  }

  /** Bytes charged to the user: current and past versions' content, and each version's charge. */
  usage(userId: number): number {
    return (this.#sql.usage.get(userId) as { used: number } | undefined)?.used ?? 0;
  }

  /** True if replacing a version of `userId` frees its bytes at once (no past versions kept). */
  keepsNoneFor(userId: number): boolean {
    return keepsNone(this.#retentionOf(userId));
  }

  /** True if a replace by `userId` is refused (append-only, and no past versions kept). */
  refusesReplace(userId: number): boolean {
    return refusesReplace(this.#retention, this.#appendOnlyOf(userId));
  }

  /**
   * `put` of many changes in one transaction, each on its own: one refused (quota, name conflict)
   * leaves the others in. If the transaction itself fails, all of them fail.
   *
   * @returns per change, the data files it freed or why it was refused.
   */
  putEach(changes: PutChange[], nowMs: number): Array<{ freed: string[] } | { error: unknown }> {
    return this.transaction(() =>
      changes.map((change) => {
        this.#sql.savepoint.run();
        try {
          const freed = this.#put(change, nowMs);
          this.#sql.release.run();
          return { freed };
        } catch (error) {
          this.#sql.undo.run();
          this.#sql.release.run();
          return { error };
        }
      })
    );
  }

  /**
   * `put` of many changes in one transaction: all of them or none.
   *
   * @returns the data files the changes freed.
   */
  putMany(changes: PutChange[], nowMs: number): string[] {
    return this.transaction(() => changes.flatMap((change) => this.#put(change, nowMs)));
  }

  /**
   * Ends the current version of a name (kept as a past version or dropped, by retention).
   *
   * @returns the data files the change freed.
   * @throws {NoSuchFileError} if the name has no current version.
   */
  delete(userId: number, name: Uint8Array, nowMs: number, nameText: string): string[] {
    return this.transaction(() => {
      const freed = this.#endCurrent(userId, name, nowMs, true);
      if (!freed) throw new NoSuchFileError(nameText);
      return freed;
    });
  }

  /**
   * Removes past versions that retention no longer keeps, at most `limit` of them.
   *
   * @returns the data files freed and how many versions were removed.
   */
  prune(nowMs: number, limit: number): { freed: string[]; removed: number } {
    return this.transaction(() => {
      const { keepDays, keepVersions } = this.#retention;
      const ids = (this.#sql.expired.all(nowMs - keepDays * 86_400_000, limit) as { id: number }[])
        .map((row) => row.id);
      if (keepVersions !== undefined && ids.length < limit) {
        // Append-only users' versions are kept for the days alone (`retentionFor`), as they
        // are now: a user who stopped being append-only is pruned by count again.
        const exempt = JSON.stringify(this.#appendOnlyUsers());
        const over = this.#sql.overCount.all(exempt, keepVersions, limit - ids.length) as {
          id: number;
        }[];
        for (const { id } of over) if (!ids.includes(id)) ids.push(id);
      }
      const freed = this.#removeIds(ids);
      return { freed, removed: ids.length };
    });
  }

  /** Copies the log's pages into the database file without an fsync; see `checkpointWithoutSync`. */
  checkpointWithoutSync(): boolean {
    return checkpointWithoutSync(this.#db);
  }

  /** Cuts the log file to nothing if no reader uses it; see `truncateLog`. */
  truncateLog(): boolean {
    return truncateLog(this.#db);
  }

  /** True if some version's bytes are in data file `name`. */
  references(dataFile: string): boolean {
    return this.#sql.referenced.get(dataFile) !== undefined;
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close();
  }

  /**
   * Makes a new version current, ending the one it replaces (kept or dropped by retention).
   *
   * @returns the data files the change freed.
   * @throws {QuotaExceededError} if the user's usage would grow past the quota.
   * @throws {NameConflictError} if the name would be both a file and a folder.
   */
  #put(change: PutChange, nowMs: number): string[] {
    const { userId, name, metadata, content } = change;
    if (this.refusesReplace(userId) && this.#sql.findMetadata.get(userId, name)) {
      throw new ReplaceRefusedError(decoder.decode(name));
    }
    this.#checkNoConflict(userId, name);
    const quota = change.quotaBytes;
    const before = quota > 0 ? this.usage(userId) : 0;
    // The version replaced ends when its successor was stored, whenever the group commit runs.
    const freed = this.#endCurrent(userId, name, metadata.storedMs, false)!;
    const { lastInsertRowid } = this.#sql.insert.run(
      userId,
      name,
      metadata.size,
      metadata.mtimeMs,
      metadata.mode,
      metadata.sha256,
      metadata.storedMs,
      "bytes" in content ? content.bytes : "chunks" in content ? EMPTY : null,
      "dataFile" in content ? content.dataFile : null,
      "chunks" in content ? content.chunks.count : null,
    );
    metadata.versionId = Number(lastInsertRowid);
    if ("chunks" in content) {
      this.chunks.index(userId, metadata.versionId, content.chunks, nowMs);
    }
    if (quota > 0) {
      const after = this.usage(userId);
      if (after > quota && after > before) throw new QuotaExceededError(userId, after, quota);
    }
    return freed;
  }

  /** @throws {NameConflictError} if a folder of `name` is a file, or `name` is a folder. */
  #checkNoConflict(userId: number, name: Uint8Array): void {
    for (let at = name.indexOf(SLASH); at !== -1; at = name.indexOf(SLASH, at + 1)) {
      if (this.#sql.findMetadata.get(userId, name.subarray(0, at))) {
        throw new NameConflictError(
          `${decoder.decode(name.subarray(0, at))} is a file, not a folder`,
        );
      }
    }
    const below = new Uint8Array(name.length + 1);
    below.set(name);
    below[name.length] = SLASH;
    const afterBelow = below.slice();
    afterBelow[name.length] = SLASH + 1;
    if (this.#sql.firstBelow.get(userId, below, afterBelow)) {
      throw new NameConflictError(`${decoder.decode(name)} is a folder, not a file`);
    }
  }

  /** Ends the current version; returns the data files freed, or `undefined` if there was none. */
  #endCurrent(userId: number, name: Uint8Array, nowMs: number, deleted: boolean) {
    const current = this.#sql.findMetadata.get(userId, name) as Row | undefined;
    if (!current) return deleted ? undefined : [];
    const retention = this.#retentionOf(userId);
    if (keepsNone(retention)) return this.#removeIds([current.id]);
    this.#sql.end.run(nowMs, deleted ? 1 : 0, current.id);
    const { keepVersions } = retention;
    if (keepVersions === undefined) return [];
    const beyond = this.#sql.pastBeyond.all(userId, name, keepVersions) as { id: number }[];
    return this.#removeIds(beyond.map((row) => row.id));
  }

  #retentionOf(userId: number): Retention {
    return retentionFor(this.#retention, this.#appendOnlyOf(userId));
  }

  /** The users with versions who are append-only now (a few: the accounts marked so). */
  #appendOnlyUsers(): number[] {
    const users = this.#sql.users.all() as { user_id: number }[];
    return users.map((row) => row.user_id).filter((userId) => this.#appendOnlyOf(userId));
  }

  #removeIds(ids: number[]): string[] {
    const freed: string[] = [];
    for (const id of ids) {
      const row = this.#sql.remove.get(id) as { data_file: string | null } | undefined;
      if (row?.data_file) freed.push(row.data_file);
    }
    return freed;
  }

  /**
   * Runs `work`, lookups only, in one read transaction (inside one already begun, in that): each
   * lookup on its own was a transaction of its own, two locks of the log's index taken and let go.
   */
  read<T>(work: () => T): T {
    return this.#db.isTransaction ? work() : this.#within(this.#sql.beginRead, work);
  }

  /** Runs `work` in one transaction: all of it or none. */
  transaction<T>(work: () => T): T {
    return this.#within(this.#sql.begin, work);
  }

  /** Runs `work` between `begin` and a commit, rolled back if it throws. */
  #within<T>(begin: Statements["begin"], work: () => T): T {
    begin.run();
    try {
      const result = work();
      this.#sql.commit.run();
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/** Bytes of small files' content in `changes`: what they add to the log besides their rows. */
export function inlineBytes(changes: PutChange[]): number {
  let bytes = 0;
  for (const { content } of changes) if ("bytes" in content) bytes += content.bytes.length;
  return bytes;
}
