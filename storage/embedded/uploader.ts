/**
 * An upload from its beginning to its durable commit: the checks made before any byte arrives (a
 * replace refused, room held against the quota), the choice between bytes in the index and chunks
 * in packs, and the version that the commit makes current through the group commit.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import type { ChunkHasher } from "../../repository/chunk_hasher.ts";
import {
  type FileMetadata,
  type PutOptions,
  ReplaceRefusedError,
  type Upload,
} from "../storage.ts";
import type { IndexWrites } from "./index_writes.ts";
import type { CommitStep } from "./options.ts";
import { QuotaReservations } from "./quota_reservations.ts";
import { chunkedUpload } from "./chunked_upload.ts";
import { inlineUpload, type UploadEnds } from "./uploads.ts";
import type { VersionIndex } from "./version_index.ts";
import type { Content } from "./version_rows.ts";

const encoder = new TextEncoder();

/** What an `Uploader` works with, given by the engine. */
export interface UploaderOptions {
  index: VersionIndex;
  writes: IndexWrites;
  /** Where the packs of chunked files go. */
  store: ObjectStore;
  /** Packs are cut at this size. */
  packTargetBytes: number;
  /** Hashes chunks off the event loop. */
  hasher: ChunkHasher;
  /** Largest file whose bytes go into the index. */
  inlineMaxBytes: number;
  /** Bytes a user may store in all; 0: no quota. */
  quotaOf(userId: number): number;
  /** The wall clock in milliseconds: a new version's stored time. */
  now(): number;
  /** Awaited at each step of a commit (see `CommitStep`). */
  onCommitStep(step: CommitStep, userId: number, name: Uint8Array): void | Promise<void>;
  /** Removes data files (written before schema 5) a commit freed, once it is durable. */
  removeLater(dataFiles: string[]): void;
}

/** Begins the uploads of one root; see the module comment. */
export class Uploader {
  readonly #options: UploaderOptions;
  readonly #reservations: QuotaReservations;

  /** @param options what uploads work with */
  constructor(options: UploaderOptions) {
    this.#options = options;
    this.#reservations = new QuotaReservations(options.index, options.quotaOf);
  }

  /**
   * Starts an upload of `name`; see `Storage.beginUpload`.
   *
   * @throws {ReplaceRefusedError} if the user may not replace the current version.
   * @throws {QuotaExceededError} if the upload cannot fit in the user's quota.
   */
  begin(userId: number, name: string, options: PutOptions): Upload {
    const { index, inlineMaxBytes } = this.#options;
    const key = encoder.encode(name);
    if (index.refusesReplace(userId) && index.stat(userId, key)) {
      throw new ReplaceRefusedError(name);
    }
    const reserved = this.#reservations.reserve(userId, key, options.size);
    const ends: UploadEnds = {
      fileName: name,
      release: () => this.#reservations.release(userId, reserved),
      commit: (sha256, content) => this.#commit(userId, key, options, { sha256, content }),
    };
    try {
      return options.size <= inlineMaxBytes
        ? inlineUpload(options.size, ends)
        : chunkedUpload(options.size, ends, {
          userId,
          store: this.#options.store,
          catalog: index.chunks,
          packTargetBytes: this.#options.packTargetBytes,
          hasher: this.#options.hasher,
          onDataDurable: () => this.#options.onCommitStep("data-durable", userId, key),
        });
    } catch (error) {
      ends.release();
      throw error;
    }
  }

  /** Makes an upload whose bytes are in place the current version, durably. */
  async #commit(
    userId: number,
    key: Uint8Array,
    options: PutOptions,
    stored: { sha256: Uint8Array; content: Content },
  ): Promise<FileMetadata> {
    const now = this.#options.now();
    const metadata: FileMetadata = {
      versionId: 0,
      size: options.size,
      mtimeMs: options.mtimeMs ?? now,
      mode: options.mode ?? null,
      sha256: stored.sha256,
      storedMs: now,
    };
    const freed = await this.#options.writes.put({
      userId,
      name: key,
      metadata,
      content: stored.content,
      quotaBytes: this.#options.quotaOf(userId),
    });
    await this.#options.onCommitStep("durable", userId, key);
    this.#options.removeLater(freed);
    return metadata;
  }
}
