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
import { ProtocolError } from "../protocol/errors.ts";
import {
  ID_SIZE,
  KEY_SLOT_ID_BYTES,
  MAX_IDS,
  OpV3,
  StatusV3,
  TAGGED_REQUEST_HEAD_SIZE,
  type TaggedOpV3,
} from "../protocol/v3/constants.ts";
import { checkKeySlotId, checkKeySlots } from "../protocol/v3/key_slots.ts";
import { encodeRequestV3Parts, type RequestV3 } from "../protocol/v3/requests.ts";
import type { ResponseV3, SnapshotEntry } from "../protocol/v3/responses.ts";
import {
  type BlobCodec,
  checkedBlob,
  hexId,
  idBytes,
  PLAIN_CODEC,
  putFrameBound,
  putRequest,
  sha256Hex,
} from "./blob_wire_v3.ts";
import { EntryQueue } from "./entry_queue_v3.ts";
import { SealBrokenError } from "./repository_keys/errors.ts";
import { signInV3 } from "./handshake_v3.ts";
import type { ClientKey } from "./keys.ts";
import { type EntrySink, type PipelineOptions, PipelineV3 } from "./pipeline_v3.ts";
import type { BlobId, BlobKind, BlobSink, BlobSource, OutgoingBlob } from "./snapshot/blobs.ts";
import { openTransport, type TransportOptions } from "./transport.ts";

/** Takes an answer and drops it (a put resolves to nothing). */
function ignore(): void {}

/** Snapshots held between the reader and a consumer of `listSnapshots` slower than the server. */
const LIST_QUEUE_ENTRIES = 64;
/** Ids in one DropBlobs: the server reads each again (64 × 8 MiB is under its 1 GiB a request). */
const DROP_BATCH = 64;

/** A request without its user id and tag, which the session fills in. */
type Untagged<T> = T extends unknown ? Omit<T, "userId" | "tag"> : never;

/** Options of `SessionV3.connect`: where, who, and the pipeline's limits and timeout. */
export interface SessionV3Options extends TransportOptions, PipelineOptions {
  /** The user id to authenticate as. */
  userId: number;
  /** The key that proves it. */
  key: ClientKey;
}

/** What a commit did: committed, or not, for want of the blobs listed (send them, then again). */
export interface CommitResult {
  /** The snapshot's id: the SHA-256 of its record, as hex. */
  id: string;
  /** True if the snapshot is durable and listed. */
  committed: boolean;
  /** Blobs the snapshot references that the server lacks (at most 8192 at a time); else empty. */
  missing: BlobId[];
}

/** What a prune freed (`SessionV3.prune`). */
export interface PruneResult {
  /** Bytes the user's usage dropped by. */
  bytesFreed: number;
  /** Packs the server removed or repacked away. */
  packsRemoved: number;
}

/** A snapshot as listed: its id (checked against its record), when it was stored, its record. */
export interface ListedSnapshot {
  /** SHA-256 of the record as sent, as hex. */
  id: string;
  /** When the server committed it, milliseconds since the epoch. */
  storedMs: number;
  /** The record as the client that made it sent it, opened if sealed (`decodeSnapshot` reads it). */
  record: Uint8Array;
  /** An encrypted repository's: the record as sent and stored, sealed (its SHA-256 is `id`). */
  sent?: Uint8Array;
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
  readonly #pipeline: PipelineV3;
  readonly #userId: number;
  readonly #appendOnly: boolean;
  #codec: BlobCodec = PLAIN_CODEC;
  #onUnreadable: ((id: string, error: SealBrokenError) => void) | undefined;

  private constructor(pipeline: PipelineV3, userId: number, appendOnly: boolean) {
    this.#pipeline = pipeline;
    this.#userId = userId;
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
    return this.#userId;
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
    this.#codec = codec;
    this.#onUnreadable = onUnreadable;
  }

  /** Whether the session's blobs and records are sealed. */
  get encrypted(): boolean {
    return this.#codec.encrypted;
  }

  /** The id of a blob of these raw bytes in this repository (SHA-256, or keyed). */
  blobId(raw: Uint8Array): BlobId {
    return this.#codec.blobId(raw);
  }

  /** Requests sent and not yet answered. */
  get unanswered(): number {
    return this.#pipeline.unanswered;
  }

  /**
   * For each id, whether the server lacks it: asked in batches of at most 8192, all at once.
   *
   * @throws {ProtocolError} for an answer of another count (the session ends); see `call`.
   */
  async missing(ids: BlobId[]): Promise<boolean[]> {
    const batches: Promise<boolean[]>[] = [];
    for (let at = 0; at < ids.length; at += MAX_IDS) {
      const batch = ids.slice(at, at + MAX_IDS).map(idBytes);
      batches.push(
        this.#call(OpV3.Missing, TAGGED_REQUEST_HEAD_SIZE + 4 + batch.length * ID_SIZE, {
          op: OpV3.Missing,
          ids: batch,
        }).then((answer) => {
          const missing = (answer as { missing: boolean[] }).missing;
          if (missing.length !== batch.length) {
            throw this.#broken(`asked about ${batch.length} ids, answered ${missing.length}`);
          }
          return missing;
        }),
      );
    }
    return (await Promise.all(batches)).flat();
  }

  /**
   * Sends a blob (zstd when that pays); resolves once the server stored it (or had it).
   *
   * @throws {ServerRefusedError} (code 5: over quota; 6: the bytes do not match the id); see `call`.
   */
  put(blob: OutgoingBlob): Promise<void> {
    // Compressed only once the window has room: blobs waiting hold no second copy. No `async`:
    // one promise per blob fewer (a tree of small files puts thousands).
    return this.#pipeline.call(
      OpV3.PutBlob,
      putFrameBound(blob, this.#codec),
      (tag) =>
        encodeRequestV3Parts({ ...putRequest(blob, this.#codec), userId: this.#userId, tag }),
    ).then(ignore);
  }

  /**
   * The blob's raw bytes, decoded and checked against `id`.
   *
   * @throws {BlobUnavailableError} if the server has no such blob, or sent one that is not it.
   */
  get(id: BlobId, kind: BlobKind): Promise<Uint8Array> {
    // No `async`: one promise per blob fewer (a restore of small files gets thousands).
    let bytes: Uint8Array;
    try {
      bytes = idBytes(id);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#call(OpV3.GetBlob, TAGGED_REQUEST_HEAD_SIZE + ID_SIZE, {
      op: OpV3.GetBlob,
      id: bytes,
    }).then((answer) => checkedBlob(id, kind, answer, this.#codec));
  }

  /** Starts a snapshot's upload: the server keeps what this session relies on until its commit. */
  async openSnapshot(): Promise<void> {
    await this.#call(OpV3.OpenSnapshot, TAGGED_REQUEST_HEAD_SIZE, { op: OpV3.OpenSnapshot });
  }

  /**
   * Commits the snapshot whose record is `record` and root tree `tree`. If the server lacks blobs
   * it references, nothing is committed and they are listed: send them and commit again.
   *
   * @throws {ServerRefusedError} (code 5: over quota); see `call`.
   */
  async commitSnapshot(record: Uint8Array, tree: BlobId): Promise<CommitResult> {
    const sent = this.#codec.sealRecord(record);
    const id = sha256Hex(sent);
    const answer = await this.#call(
      OpV3.CommitSnapshot,
      TAGGED_REQUEST_HEAD_SIZE + 2 * ID_SIZE + 4 + sent.length,
      { op: OpV3.CommitSnapshot, id: idBytes(id), tree: idBytes(tree), record: sent },
    );
    if (answer.status === StatusV3.Committed) return { id, committed: true, missing: [] };
    const missing = (answer as { ids: Uint8Array[] }).ids.map(hexId);
    return { id, committed: false, missing };
  }

  /**
   * The user's snapshots, oldest first, as the server sends them (the request goes out when the
   * iteration starts). A list longer than the pipeline's `maxListEntries` or `maxListBytes` ends
   * the session with a `ProtocolError`; an iteration stopped early leaves the session usable.
   *
   * @throws {ProtocolError} for a snapshot whose record does not hash to its id (the session
   *   ends); see `call`.
   */
  async *listSnapshots(): AsyncGenerator<ListedSnapshot> {
    const queue = new EntryQueue<SnapshotEntry>(LIST_QUEUE_ENTRIES);
    await this.#call(OpV3.ListSnapshots, TAGGED_REQUEST_HEAD_SIZE, {
      op: OpV3.ListSnapshots,
    }, queue);
    for await (const entry of queue) {
      const id = hexId(entry.id);
      if (sha256Hex(entry.record) !== id) {
        throw this.#broken(`snapshot ${id} listed with a record that does not hash to its id`);
      }
      if (!this.#codec.encrypted) {
        yield { id, storedMs: entry.storedMs, record: entry.record };
        continue;
      }
      let record: Uint8Array;
      try {
        record = this.#codec.openRecord(entry.record);
      } catch (error) {
        if (!(error instanceof SealBrokenError)) throw error;
        this.#onUnreadable?.(id, error);
        continue;
      }
      yield { id, storedMs: entry.storedMs, record, sent: entry.record };
    }
  }

  /**
   * Forgets a snapshot (its blobs go when nothing else references them).
   *
   * @throws {SnapshotNotFoundError}; {ServerRefusedError} (an append-only account); see `call`.
   */
  async forgetSnapshot(id: string): Promise<void> {
    await this.#call(OpV3.ForgetSnapshot, TAGGED_REQUEST_HEAD_SIZE + ID_SIZE, {
      op: OpV3.ForgetSnapshot,
      id: idBytes(id),
    });
  }

  /**
   * The user's key slots (docs/keys_plan.md §1), in the order of their ids: none for a plain
   * repository. Bounded by the codec before anything is read: at most 16 slots of 17..4096 bytes
   * (`MAX_KEY_SLOTS`, `MAX_KEY_SLOT_BYTES`), else a `ProtocolError` that ends the session.
   *
   * @throws see `call`.
   */
  async listKeySlots(): Promise<Uint8Array[]> {
    const answer = await this.#call(OpV3.ListKeys, TAGGED_REQUEST_HEAD_SIZE, { op: OpV3.ListKeys });
    // Copies: the answer's slots are views of one body, and a caller may keep one of them.
    return (answer as { slots: Uint8Array[] }).slots.map((slot) => slot.slice());
  }

  /**
   * Adds a key slot (17..4096 bytes; its id is bytes 1..17); the same slot again changes nothing.
   * Allowed to an append-only account.
   *
   * @param options `first`: only as the repository's first slot (`init`), refused otherwise
   * @throws {RangeError} for a slot out of 17..4096 bytes (nothing sent); {ServerRefusedError}
   *   (code 3: a slot of that id with other bytes, a first slot beside plain snapshots, or
   *   `first` where the user has a slot; 4: the user has 16 slots; 5: over quota); see `call`.
   */
  async addKeySlot(slot: Uint8Array, options: { first?: boolean } = {}): Promise<void> {
    checkKeySlots([slot]);
    await this.#call(OpV3.AddKey, TAGGED_REQUEST_HEAD_SIZE + 1 + 4 + slot.length, {
      op: OpV3.AddKey,
      first: options.first ?? false,
      slot,
    });
  }

  /**
   * Removes the key slot of this id (16 bytes); never the user's last.
   *
   * @throws {RangeError} for an id not of 16 bytes (nothing sent); {KeySlotNotFoundError};
   *   {ServerRefusedError} (code 3: the user's last slot, or an append-only account); see `call`.
   */
  async removeKeySlot(slotId: Uint8Array): Promise<void> {
    checkKeySlotId(slotId);
    await this.#call(OpV3.RemoveKey, TAGGED_REQUEST_HEAD_SIZE + KEY_SLOT_ID_BYTES, {
      op: OpV3.RemoveKey,
      slotId,
    });
  }

  /**
   * Asks the server to collect the user's garbage now (what no snapshot references); resolves
   * what the user's usage dropped by and the packs removed.
   *
   * @throws {ServerRefusedError} (code 3: an append-only account; 8: another server is pruning
   *   the bucket now, ask again later); see `call`.
   */
  async prune(): Promise<PruneResult> {
    const answer = await this.#call(OpV3.Prune, TAGGED_REQUEST_HEAD_SIZE, { op: OpV3.Prune });
    const { bytesFreed, packsRemoved } = answer as PruneResult;
    return { bytesFreed, packsRemoved };
  }

  /**
   * Tells the server these blobs are damaged (`check --read-data` found them so): it drops those
   * whose stored bytes really are bad, so that the next backup sends them again. Sent in batches
   * of at most 8192, all at once.
   *
   * @throws {ServerRefusedError} (code 3: an append-only account); see `call`.
   */
  async dropBlobs(ids: BlobId[]): Promise<void> {
    const batches: Promise<unknown>[] = [];
    for (let at = 0; at < ids.length; at += DROP_BATCH) {
      const batch = ids.slice(at, at + DROP_BATCH).map(idBytes);
      batches.push(
        this.#call(OpV3.DropBlobs, TAGGED_REQUEST_HEAD_SIZE + 4 + batch.length * ID_SIZE, {
          op: OpV3.DropBlobs,
          ids: batch,
        }),
      );
    }
    await Promise.all(batches);
  }

  /** Closes the connection; calls still waiting are rejected. */
  async close(): Promise<void> {
    await this.#pipeline.close();
  }

  /** Closes it, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * One request through the pipeline.
   *
   * @throws {ServerRefusedError} for a refusal; {ProtocolError}, {ConnectionLostError},
   *   {AnswerTimeoutError} when the connection ended (every call waiting gets the same error).
   */
  #call(
    op: TaggedOpV3,
    bytes: number,
    request: Untagged<RequestV3>,
    entries?: EntrySink,
  ): Promise<ResponseV3> {
    return this.#pipeline.call(
      op,
      bytes,
      (tag) => encodeRequestV3Parts({ ...request, userId: this.#userId, tag } as RequestV3),
      entries,
    );
  }

  /** The server answered something its request cannot have: the session cannot go on. */
  #broken(message: string): ProtocolError {
    const error = new ProtocolError(message);
    this.#pipeline.abort(error);
    return error;
  }
}
