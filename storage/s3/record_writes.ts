/**
 * The S3 backend's per-name write path, below `S3Storage`: the commit that makes an upload's
 * stored bytes the current version (trusting `RecentNames` under default retention), the deletion
 * record, and retention applied to a name whose history just grew, after the answer.
 *
 * @module
 */
import { NoSuchFileError } from "../errors.ts";
import { DeleteRefusedError, type FileMetadata, type PutOptions } from "../storage.ts";
import { retentionFor } from "../retention.ts";
import type { BackgroundWork } from "../background_work.ts";
import { recordKey } from "./keys.ts";
import { metadataOf, type StoredRecord } from "./histories.ts";
import { currentRecord, historyOf, latestOf } from "./reads.ts";
import type { ListScope } from "./listings.ts";
import { recordChargeOf } from "./quota.ts";
import type { StoredBytes } from "./uploads.ts";
import { pruneHistory } from "./maintenance.ts";
import { type CommitContext, nextVersionId, putFileRecord } from "./commits.ts";
import type { RecentNames } from "./recent_names.ts";
import { checkNoConflict } from "./conflicts.ts";

/** What a `RecordWrites` writes with. */
export interface RecordWritesOptions {
  /** The bucket, retention, append-only rule, clock and quota estimates of commits. */
  hk: CommitContext;
  /** The names this server stored lately. */
  recent: RecentNames;
  /** Where a prune after the answer is tracked. */
  background: BackgroundWork;
  /** Told of a prune after the answer that failed. */
  onBackgroundError?: (error: unknown) => void;
}

/** Commits and deletions of file records; see the module comment. */
export class RecordWrites {
  readonly #hk: CommitContext;
  readonly #recent: RecentNames;
  readonly #background: BackgroundWork;
  readonly #onBackgroundError?: (error: unknown) => void;
  #records = 0;

  /** @param options see `RecordWritesOptions` */
  constructor(options: RecordWritesOptions) {
    this.#hk = options.hk;
    this.#recent = options.recent;
    this.#background = options.background;
    this.#onBackgroundError = options.onBackgroundError;
  }

  /** Records stored since start (commits and deletions). */
  get records(): number {
    return this.#records;
  }

  /**
   * Deletes a file's current version (a deletion record); see `Storage.delete`.
   *
   * @throws {DeleteRefusedError} for an append-only user.
   * @throws {NoSuchFileError} if the name has no current version.
   */
  async delete(userId: number, name: string): Promise<void> {
    if (this.#hk.appendOnlyOf(userId)) throw new DeleteRefusedError(name);
    const current = currentRecord(await latestOf(this.#scope(userId), name));
    if (!current) throw new NoSuchFileError(name);
    const versionId = nextVersionId(this.#hk.now(), current.fields.versionId);
    const key = recordKey(this.#hk.prefix, userId, name, { kind: "deleted", versionId });
    this.#recent.forget(userId, name); // the name may become a folder: list it at the next commit
    await this.#hk.client.put(key, new Uint8Array(0));
    this.#records++;
    this.#hk.usage.stored(userId, recordChargeOf(name)); // a deletion record is charged too
    this.#pruneLater(userId, name);
  }

  /**
   * Makes an upload whose bytes are stored the current version (see `putFileRecord`). Under default
   * retention, a name this server stored lately is not listed again (`RecentNames`): a replace is
   * then one PUT.
   */
  async commit(
    userId: number,
    name: string,
    options: PutOptions,
    sha256: Uint8Array,
    stored: StoredBytes,
  ): Promise<FileMetadata> {
    const defaultRetention = this.#defaultRetention(userId);
    const known = defaultRetention ? this.#recent.newest(userId, name) : undefined;
    const listedAt = known?.listedAt ?? this.#recent.listedNow();
    // Under default retention a name this server does not know is most often new: its file/folder
    // check is listed beside its history rather than after it (one round trip less).
    const conflictCheck = defaultRetention && !known
      ? settledLater(checkNoConflict(this.#hk.client, this.#hk.prefix, userId, name))
      : undefined;
    const latest: StoredRecord | undefined = known
      ? known.record
      : (await latestOf(this.#scope(userId), name))?.records[0];
    const commit = { userId, name, options, sha256, stored, latest, conflictCheck };
    let record;
    try {
      record = await putFileRecord(this.#hk, commit);
    } catch (error) {
      // The record may have been stored all the same (an answer lost): list at the next commit.
      this.#recent.forget(userId, name);
      throw error;
    }
    this.#recent.stored(userId, name, record, listedAt);
    this.#records++;
    if (latest) this.#pruneLater(userId, name);
    return metadataOf(record);
  }

  /**
   * Whether the user's retention is the default kind, under which a commit may trust `RecentNames`:
   * past versions kept for days (not zero), not limited in number, not append-only. Whatever else
   * decides from the name's newest record (a replace refused, the bytes a replace frees, a prune
   * after the commit) needs the listing.
   */
  #defaultRetention(userId: number): boolean {
    const { keepDays, keepVersions } = this.#hk.retention;
    return keepVersions === undefined && keepDays > 0 && !this.#hk.appendOnlyOf(userId);
  }

  #scope(userId: number): ListScope {
    return { client: this.#hk.client, prefix: this.#hk.prefix, userId };
  }

  /**
   * Applies retention to a name whose history just grew, after the answer, when retention limits
   * the number of past versions (by days alone, nothing newly ended can have expired: the periodic
   * prune takes the rest).
   */
  #pruneLater(userId: number, name: string): void {
    const { keepDays, keepVersions } = retentionFor(
      this.#hk.retention,
      this.#hk.appendOnlyOf(userId),
    );
    if (keepDays !== 0 && keepVersions === undefined) return;
    const work = historyOf(this.#scope(userId), name).then(async (history) => {
      if (history && await pruneHistory(this.#hk, history) > 0) this.#hk.usage.forget(userId);
    }).catch((error) => this.#onBackgroundError?.(error));
    this.#background.track(work);
  }
}

/**
 * `work`, with its failure kept for whoever awaits it and not reported as unhandled if nobody does
 * (a speculative check whose answer turned out not to be needed).
 */
function settledLater(work: Promise<void>): Promise<void> {
  work.catch(() => {});
  return work;
}
