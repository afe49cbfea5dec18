/**
 * The client of protocol version 3 (snapshots) over one connection, plain or TLS: signed in with
 * the user's Ed25519 key, then many requests in flight at once (`PipelineV3`), each call's promise
 * settled by its own answer. It is the archiver's `BlobSink` and the restorer's `BlobSource`, and
 * opens, commits, lists and forgets snapshots, and lists, adds and removes the user's key slots.
 * Nothing the server sends is trusted: answers are paired with their requests by order and tag,
 * blobs are checked against their ids, a list is bounded, and a server silent past the timeout
 * fails every call waiting.
 *
 * @module
 */
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";
import { dropBlobs, getBlob, missingBlobs, putBlob } from "./blob_requests_v3.ts";
import type { BlobCodec } from "./blob_wire_v3.ts";
import type { SealBrokenError } from "./repository_keys/errors.ts";
import { signInV3 } from "./handshake_v3.ts";
import { addKeySlot, listKeySlots, removeKeySlot } from "./key_slot_requests_v3.ts";
import type { ClientKey } from "./keys.ts";
import { type PipelineOptions, PipelineV3 } from "./pipeline_v3.ts";
import { SessionRequesterV3 } from "./session_requester_v3.ts";
import type { BlobId, BlobKind, BlobSink, BlobSource, OutgoingBlob } from "./snapshot/blobs.ts";
import {
  type CommitResult,
  commitSnapshot,
  forgetSnapshot,
  type ListedSnapshot,
  listSnapshots,
  openSnapshot,
  prune,
  type PruneResult,
} from "./snapshot_requests_v3.ts";
import { openTransport, type TransportOptions } from "./transport.ts";

export type { CommitResult, ListedSnapshot, PruneResult };

/** Options of `SessionV3.connect`: where, who, and the pipeline's limits and timeout. */
export interface SessionV3Options extends TransportOptions, PipelineOptions {
  /** The user id to authenticate as. */
  userId: number;
  /** The key that proves it. */
  key: ClientKey;
}

/**
 * See the module comment.
 *
 * @example
 * ```ts ignore
 * import { SessionV3 } from "./session_v3.ts";
 * import { loadKey } from "./keys.ts";
 * await using session = await SessionV3.connect({ userId: 77, key: await loadKey("key"), tls: true });
 * await session.openSnapshot();
 * // archive(paths, options, session) puts the blobs; then:
 * let result = await session.commitSnapshot(record, rootTree);
 * if (!result.committed) { // send result.missing, then commit again
 * }
 * for await (const snapshot of session.listSnapshots()) console.log(snapshot.id);
 * ```
 */
export class SessionV3 implements BlobSink, BlobSource, AsyncDisposable {
  readonly #requests: SessionRequesterV3;
  readonly #appendOnly: boolean;

  private constructor(pipeline: PipelineV3, userId: number, appendOnly: boolean) {
    this.#requests = new SessionRequesterV3(pipeline, userId);
    this.#appendOnly = appendOnly;
  }

  /**
   * Connects and signs in.
   *
   * @throws {ProtocolV3UnsupportedError} if the server does not speak version 3 (use version 2);
   *   {ServerRefusedError} if it refuses the session or the key; {TlsError}; network errors;
   *   {AnswerTimeoutError} if it stays silent.
   */
  static async connect(options: SessionV3Options): Promise<SessionV3> {
    const conn = await openTransport({
      ...options,
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_PORT,
    });
    const pipeline = new PipelineV3(conn, options);
    try {
      const appendOnly = await pipeline.handshake((io) =>
        signInV3(io, options.userId, options.key)
      );
      return new SessionV3(pipeline, options.userId, appendOnly);
    } catch (error) {
      await pipeline.close();
      throw error;
    }
  }

  /** The user id requests act for. */
  get userId(): number {
    return this.#requests.userId;
  }

  /** True if the server said this account may not forget snapshots. */
  get appendOnly(): boolean {
    return this.#appendOnly;
  }

  /**
   * How blobs and records are named, sent and checked from now on: `PLAIN_CODEC` (the default),
   * or an encrypted repository's once its key is open (`unlockRepository`). A listed record that
   * does not open with its key (written by another key, or by anyone holding the account's
   * Ed25519 key but not the repository's) is left out of lists and told to `onUnreadable`: one
   * such record must not make the whole repository unusable.
   */
  useCodec(codec: BlobCodec, onUnreadable?: (id: string, error: SealBrokenError) => void): void {
    this.#requests.codec = codec;
    this.#requests.onUnreadable = onUnreadable;
  }

  /** Whether the session's blobs and records are sealed. */
  get encrypted(): boolean {
    return this.#requests.codec.encrypted;
  }

  /** The id of a blob of these raw bytes in this repository (SHA-256, or keyed). */
  blobId(raw: Uint8Array): BlobId {
    return this.#requests.codec.blobId(raw);
  }

  /** Requests sent and not yet answered. */
  get unanswered(): number {
    return this.#requests.pipeline.unanswered;
  }

  /**
   * For each id, whether the server lacks it: asked in batches of at most 8192, all at once.
   *
   * @throws {ProtocolError} for an answer of another count (the session ends); see `SessionRequesterV3.call`.
   */
  missing(ids: BlobId[]): Promise<boolean[]> {
    return missingBlobs(this.#requests, ids);
  }

  /**
   * Sends a blob (zstd when that pays); resolves once the server stored it (or had it).
   *
   * @throws {ServerRefusedError} (code 5: over quota; 6: the bytes do not match the id); see `SessionRequesterV3.call`.
   */
  put(blob: OutgoingBlob): Promise<void> {
    return putBlob(this.#requests, blob);
  }

  /**
   * The blob's raw bytes, decoded and checked against `id`.
   *
   * @throws {BlobUnavailableError} if the server has no such blob, or sent one that is not it.
   */
  get(id: BlobId, kind: BlobKind): Promise<Uint8Array> {
    return getBlob(this.#requests, id, kind);
  }

  /** Starts a snapshot's upload: the server keeps what this session relies on until its commit. */
  openSnapshot(): Promise<void> {
    return openSnapshot(this.#requests);
  }

  /**
   * Commits the snapshot whose record is `record` and root tree `tree`. If the server lacks blobs
   * it references, nothing is committed and they are listed: send them and commit again.
   *
   * @throws {ServerRefusedError} (code 5: over quota); see `SessionRequesterV3.call`.
   */
  commitSnapshot(record: Uint8Array, tree: BlobId): Promise<CommitResult> {
    return commitSnapshot(this.#requests, record, tree);
  }

  /**
   * The user's snapshots, oldest first, as the server sends them (the request goes out when the
   * iteration starts). A list longer than the pipeline's `maxListEntries` or `maxListBytes` ends
   * the session with a `ProtocolError`; an iteration stopped early leaves the session usable.
   *
   * @throws {ProtocolError} for a snapshot whose record does not hash to its id (the session
   *   ends); see `SessionRequesterV3.call`.
   */
  listSnapshots(): AsyncGenerator<ListedSnapshot> {
    return listSnapshots(this.#requests);
  }

  /**
   * Forgets a snapshot (its blobs go when nothing else references them).
   *
   * @throws {SnapshotNotFoundError}; {ServerRefusedError} (an append-only account); see `SessionRequesterV3.call`.
   */
  forgetSnapshot(id: string): Promise<void> {
    return forgetSnapshot(this.#requests, id);
  }

  /**
   * The user's key slots (docs/keys_plan.md §1), in the order of their ids: none for a plain
   * repository. Bounded by the codec before anything is read: at most 16 slots of 17..4096 bytes
   * (`MAX_KEY_SLOTS`, `MAX_KEY_SLOT_BYTES`), else a `ProtocolError` that ends the session.
   *
   * @throws see `SessionRequesterV3.call`.
   */
  listKeySlots(): Promise<Uint8Array[]> {
    return listKeySlots(this.#requests);
  }

  /**
   * Adds a key slot (17..4096 bytes; its id is bytes 1..17); the same slot again changes nothing.
   * Allowed to an append-only account.
   *
   * @param options `first`: only as the repository's first slot (`init`), refused otherwise
   * @throws {RangeError} for a slot out of 17..4096 bytes (nothing sent); {ServerRefusedError}
   *   (code 3: a slot of that id with other bytes, a first slot beside plain snapshots, or
   *   `first` where the user has a slot; 4: the user has 16 slots; 5: over quota); see `SessionRequesterV3.call`.
   */
  addKeySlot(slot: Uint8Array, options: { first?: boolean } = {}): Promise<void> {
    return addKeySlot(this.#requests, slot, options);
  }

  /**
   * Removes the key slot of this id (16 bytes); never the user's last.
   *
   * @throws {RangeError} for an id not of 16 bytes (nothing sent); {KeySlotNotFoundError};
   *   {ServerRefusedError} (code 3: the user's last slot, or an append-only account); see `SessionRequesterV3.call`.
   */
  removeKeySlot(slotId: Uint8Array): Promise<void> {
    return removeKeySlot(this.#requests, slotId);
  }

  /**
   * Asks the server to collect the user's garbage now (what no snapshot references); resolves
   * what the user's usage dropped by and the packs removed.
   *
   * @throws {ServerRefusedError} (code 3: an append-only account; 8: another server is pruning
   *   the bucket now, ask again later); see `SessionRequesterV3.call`.
   */
  prune(): Promise<PruneResult> {
    return prune(this.#requests);
  }

  /**
   * Tells the server these blobs are damaged (`check --read-data` found them so): it drops those
   * whose stored bytes really are bad, so that the next backup sends them again. Sent in batches
   * of at most 8192, all at once.
   *
   * @throws {ServerRefusedError} (code 3: an append-only account); see `SessionRequesterV3.call`.
   */
  dropBlobs(ids: BlobId[]): Promise<void> {
    return dropBlobs(this.#requests, ids);
  }

  /** Closes the connection; calls still waiting are rejected. */
  async close(): Promise<void> {
    await this.#requests.pipeline.close();
  }

  /** Closes it, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
