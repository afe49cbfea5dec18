/**
 * What the S3 engine's chunked uploads share, made once per engine with `chunkFiles`: the packs'
 * store (buffers held from the upload budget), the dedup cache, the tombstone view that filters it
 * (`DoomView`, rule W1: started with the engine), the chunk hasher, and the options each upload
 * takes from the engine's (its pin's among them).
 *
 * @module
 */
import { MIN_CHUNK_SIZE } from "../../chunking/fastcdc.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { ChunkHasher } from "../../repository/chunk_hasher.ts";
import type { FileMetadata, Upload } from "../storage.ts";
import { MAX_CHUNK_RAW_BYTES } from "./chunk_entry.ts";
import { s3ChunkedUpload } from "./chunked_upload.ts";
import { DedupCache } from "./dedup_cache.ts";
import { DoomView } from "./doom_view.ts";
import { UploadPin } from "./pins.ts";
import {
  DEFAULT_PACK_PUTS_IN_FLIGHT,
  DEFAULT_S3_PACK_TARGET_BYTES,
  type S3StorageOptions,
} from "./options.ts";
import { BufferedPackStore } from "./pack_store.ts";
import type { MemoryBudget, StoredBytes } from "./uploads.ts";

/** What the engine does at a chunked upload's ends. */
export interface ChunkedUploadEnds {
  /** Stores the record that makes the chunks the current version. */
  commit(sha256: Uint8Array, stored: StoredBytes): Promise<FileMetadata>;
  /** Keeps work that runs after the answer (the index object) until it settles. */
  background(work: Promise<unknown>): void;
  /** Called once, when the upload is committed or dropped. */
  release(): void;
}

/** The engine's chunked uploads; see the module comment. */
export class S3Chunking {
  readonly #packs: BufferedPackStore;
  readonly #dedup: DedupCache;
  readonly #hasher: ChunkHasher;
  readonly #options: S3StorageOptions;
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #view: DoomView;

  /**
   * Starts the tombstone view's refreshes.
   *
   * @param client the bucket (pins, tombstones and index objects are signed through it)
   * @param objects the bucket as an object store (below the engine's prefix)
   * @param budget the engine's upload buffers
   * @param options the engine's options
   */
  constructor(
    client: S3Client,
    objects: ObjectStore,
    budget: MemoryBudget,
    options: S3StorageOptions,
  ) {
    this.#options = options;
    this.#client = client;
    this.#prefix = options.prefix ?? "";
    const gc = options.gc ?? {};
    // A pack's buffer: its target, the chunk that passes it, and room for its header.
    const packBytes = (options.packTargetBytes ?? DEFAULT_S3_PACK_TARGET_BYTES) +
      MAX_CHUNK_RAW_BYTES + 1024 * 1024;
    const budgetBytes = options.memoryBytes ?? 128 * 1024 * 1024;
    this.#packs = new BufferedPackStore(objects, budget, Math.min(packBytes, budgetBytes));
    this.#dedup = new DedupCache({
      store: objects,
      budgetBytes: options.dedupCacheBytes,
      refreshMs: options.dedupRefreshMs,
      onError: options.onBackgroundError,
      isDoomed: (pack) => this.#view.isDoomed(pack),
    });
    this.#view = new DoomView({
      client,
      prefix: this.#prefix,
      maxAgeMs: gc.viewMaxAgeMs,
      refreshMs: gc.viewRefreshMs,
      dropAfterMs: gc.viewDropAfterMs,
      clock: gc.clock,
      onDoomed: (packs) => this.#dedup.dropPacks(packs),
      onStale: () => this.#dedup.clear(),
      onError: options.onBackgroundError,
    });
    this.#view.start();
    this.#hasher = new ChunkHasher(options.hashWorkers);
  }

  /** Where packs are written, their buffers held from the engine's budget (snapshot sessions too). */
  get packStore(): ObjectStore {
    return this.#packs;
  }

  /** The tombstone view (W1), which snapshot sessions use as chunked uploads do. */
  get view(): DoomView {
    return this.#view;
  }

  /** Whether a file of `size` bytes is chunked: larger than the chunker's minimum. */
  takes(size: number): boolean {
    return size > MIN_CHUNK_SIZE;
  }

  /** Starts a chunked upload of `size` bytes as `fileName` (see `s3ChunkedUpload`). */
  begin(userId: number, fileName: string, size: number, ends: ChunkedUploadEnds): Promise<Upload> {
    return s3ChunkedUpload({
      userId,
      fileName,
      size,
      store: this.#packs,
      dedup: this.#dedup,
      hasher: this.#hasher,
      packTargetBytes: this.#options.packTargetBytes ?? DEFAULT_S3_PACK_TARGET_BYTES,
      putsInFlight: this.#options.packPutsInFlight ?? DEFAULT_PACK_PUTS_IN_FLIGHT,
      dedupWaitMs: this.#options.dedupWaitMs ?? 1000,
      view: this.#view,
      pin: (session) =>
        new UploadPin({
          client: this.#client,
          prefix: this.#prefix,
          userId,
          session,
          intervalMs: this.#options.gc?.pinIntervalMs,
          clock: this.#options.gc?.clock,
          onError: this.#options.onBackgroundError,
        }),
      putIndex: (name, body, signedAt) =>
        this.#client.put(`${this.#prefix}${name}`, body, { signedAt }),
      ...ends,
    });
  }

  /** Stops the tombstone view's refreshes and the hasher's workers. */
  async close(): Promise<void> {
    await this.#view.close();
    this.#hasher.close();
  }
}
