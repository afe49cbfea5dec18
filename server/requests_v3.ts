/**
 * Version 3 requests after the handshake, carried out against the store's snapshot repository
 * (`storage/snapshots.ts`): which blobs it lacks, blobs in and out, a snapshot's upload session
 * and its commit, the list of snapshots and forgetting one, the user's key slots. One `RequestsV3` per connection; the
 * session (`session_v3.ts`) reads the requests, orders the work and writes the answers.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { toHex } from "../common/hex.ts";
import { BlobEncoding, BlobKind, MAX_IDS, OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import type { HandshakeRequestV3 } from "../protocol/v3/handshake.ts";
import {
  KEY_SLOT_ID_BYTES,
  KEY_SLOT_ID_OFFSET,
  keySlotNotFoundId,
} from "../protocol/v3/key_slots.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import type {
  BlobEncoding as StoredEncoding,
  BlobReader,
  SnapshotRepository,
  SnapshotSession,
  StoredSnapshot,
} from "../storage/snapshots.ts";
import { SessionClosedError } from "../storage/snapshots.ts";
import { ForbiddenError, type Session } from "./access.ts";

/** @throws {ForbiddenError} (the connection stays) if the account is append-only. */
function refuseAppendOnly(session: Session, what: string): void {
  if (session.appendOnly) {
    throw new ForbiddenError(`${what} is refused: the account is append-only`, false);
  }
}

/** The names of the ops, for the log. */
export const V3_OP_NAMES = {
  [OpV3.Hello]: "hello",
  [OpV3.Auth]: "auth",
  [OpV3.Missing]: "missing",
  [OpV3.PutBlob]: "put-blob",
  [OpV3.GetBlob]: "get-blob",
  [OpV3.OpenSnapshot]: "open-snapshot",
  [OpV3.CommitSnapshot]: "commit-snapshot",
  [OpV3.ListSnapshots]: "list-snapshots",
  [OpV3.ForgetSnapshot]: "forget-snapshot",
  [OpV3.ListKeys]: "list-keys",
  [OpV3.AddKey]: "add-key",
  [OpV3.RemoveKey]: "remove-key",
  [OpV3.Prune]: "prune",
  [OpV3.DropBlobs]: "drop-blobs",
} as const;

/** A version 3 Hello to a store that keeps no snapshots (1003 code 1, then a close). */
export class NoSnapshotsError extends BackupError {
  /** Builds the error with the message the protocol documents. */
  constructor() {
    super("this store keeps no snapshots");
  }
}

/**
 * What a request comes to: an answer to encode, or a list of snapshots to stream behind a 235.
 * `bytes` counts the blob bytes the request moved, for its log line.
 */
export type AnswerV3 =
  | { response: ResponseV3; bytes: number }
  | { tag: number; snapshots: AsyncIterable<StoredSnapshot> };

/** The wire's blob encodings and the store's, both ways. */
const STORED_ENCODINGS: Record<BlobEncoding, StoredEncoding> = {
  [BlobEncoding.Raw]: "raw",
  [BlobEncoding.Zstd]: "zstd",
  [BlobEncoding.Sealed]: "sealed",
};
const WIRE_ENCODINGS: Record<StoredEncoding, BlobEncoding> = {
  raw: BlobEncoding.Raw,
  zstd: BlobEncoding.Zstd,
  sealed: BlobEncoding.Sealed,
};

/**
 * The fields of a version 3 request's log line: user id, op name, and the id it names (a key
 * slot's id for AddKey and RemoveKey).
 */
export function describeRequestV3(
  request: HandshakeRequestV3 | RequestV3,
): { userId: number; op: string; name?: string } {
  const named = "id" in request
    ? request.id
    : "slotId" in request
    ? request.slotId
    : "slot" in request
    ? request.slot.subarray(KEY_SLOT_ID_OFFSET, KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES)
    : undefined;
  const name = named && named.length > 0 ? toHex(named) : undefined;
  return { userId: request.userId, op: V3_OP_NAMES[request.op], name };
}

/** The id a request names (what a 1001 echoes), if any. */
export function requestIdV3(request: RequestV3 | undefined): Uint8Array | undefined {
  if (request?.op === OpV3.RemoveKey) return keySlotNotFoundId(request.slotId);
  return request && "id" in request ? request.id : undefined;
}

/**
 * One connection's version 3 requests for one signed-in user. The store session opens with an
 * OpenSnapshot, or with the first Missing, PutBlob or CommitSnapshot outside one, and ends with a
 * commit's 233 or the connection's end (`close`): one at a time per connection.
 */
export class RequestsV3 {
  readonly #repository: SnapshotRepository;
  readonly #userId: number;
  #session: SnapshotSession | undefined;
  /** The connection's blob reader (packs kept open between GetBlobs), made at the first. */
  #reader: BlobReader | undefined;
  #closed = false;

  /**
   * @param repository the store's snapshots
   * @param userId the signed-in user
   */
  constructor(repository: SnapshotRepository, userId: number) {
    this.#repository = repository;
    this.#userId = userId;
  }

  /**
   * Carries out one request for `session` (the signed-in session as the accounts see it now).
   * Calls that touch the store session must be made in request order (`SnapshotSession` runs
   * them in the order called).
   *
   * @throws what the store throws (turned into an answer by `outcomeForError`), and
   *   `ForbiddenError` for a forget, a removal of a key slot, a prune or a drop of blobs by an
   *   append-only account.
   */
  async handle(request: RequestV3, session: Session): Promise<AnswerV3> {
    const { tag } = request;
    const done = (bytes = 0): AnswerV3 => ({ response: { status: StatusV3.Done, tag }, bytes });
    switch (request.op) {
      case OpV3.Missing: {
        const missing = await this.#open().missing(request.ids);
        return { response: { status: StatusV3.MissingIds, tag, missing }, bytes: 0 };
      }
      case OpV3.PutBlob: {
        await this.#open().put({
          id: request.id,
          kind: request.kind === BlobKind.Tree ? "tree" : "data",
          encoding: STORED_ENCODINGS[request.encoding],
          rawLength: request.rawLength,
          bytes: request.bytes,
          refs: request.refs,
          handedOver: true, // the request's body, read into its own buffer, is not used again
        });
        return done(request.bytes.length);
      }
      case OpV3.GetBlob: {
        const blob = await this.#blobs().read(request.id);
        const response: ResponseV3 = {
          status: StatusV3.Blob,
          tag,
          kind: blob.kind === "tree" ? BlobKind.Tree : BlobKind.Data,
          encoding: WIRE_ENCODINGS[blob.encoding],
          rawLength: blob.rawLength,
          bytes: blob.bytes,
        };
        return { response, bytes: blob.bytes.length };
      }
      case OpV3.OpenSnapshot:
        this.#open();
        return done();
      case OpV3.CommitSnapshot: {
        const { id, tree, record } = request;
        const { missing } = await this.#open().commit({ id, tree, record });
        if (missing.length > 0) {
          const ids = missing.slice(0, MAX_IDS);
          return { response: { status: StatusV3.Incomplete, tag, ids }, bytes: 0 };
        }
        await this.#endSession(); // the upload is committed: the next one opens a new session
        return { response: { status: StatusV3.Committed, tag }, bytes: 0 };
      }
      case OpV3.ListSnapshots:
        return { tag, snapshots: this.#repository.listSnapshots(this.#userId) };
      case OpV3.ForgetSnapshot:
        refuseAppendOnly(session, "forgetting snapshots");
        await this.#repository.forgetSnapshot(this.#userId, request.id);
        return done();
      case OpV3.ListKeys: {
        const slots = await this.#repository.listKeySlots(this.#userId);
        return { response: { status: StatusV3.KeySlots, tag, slots }, bytes: 0 };
      }
      case OpV3.AddKey:
        // Allowed to append-only accounts: a slot adds access, it takes nothing away. The upload
        // session asks once whether the repository is encrypted: the next one sees this slot.
        await this.#repository.addKeySlot(this.#userId, request.slot, { first: request.first });
        await this.#endSession();
        return done();
      case OpV3.RemoveKey:
        refuseAppendOnly(session, "removing a key slot");
        await this.#repository.removeKeySlot(this.#userId, request.slotId);
        return done();
      case OpV3.Prune: {
        refuseAppendOnly(session, "pruning");
        // This connection's own upload session would pin what its user just forgot.
        await this.#endSession();
        const { bytesFreed, packsRemoved } = await this.#repository.prune(this.#userId);
        const response: ResponseV3 = { status: StatusV3.Pruned, tag, bytesFreed, packsRemoved };
        return { response, bytes: 0 };
      }
      case OpV3.DropBlobs:
        refuseAppendOnly(session, "dropping blobs");
        await this.#repository.dropBlobs(this.#userId, request.ids);
        return done();
    }
  }

  /** Ends the store session, if one is open: what it received is kept for the next run. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#reader?.close();
    await this.#endSession();
  }

  /** The connection's blob reader; after the close, reads go to the store one by one. */
  #blobs(): Pick<BlobReader, "read"> {
    const repository = this.#repository;
    const plain = { read: (id: Uint8Array) => repository.readBlob(this.#userId, id) };
    if (this.#closed || !repository.blobReader) return plain;
    return this.#reader ??= repository.blobReader(this.#userId);
  }

  #open(): SnapshotSession {
    if (this.#closed) throw new SessionClosedError();
    return this.#session ??= this.#repository.openSession(this.#userId);
  }

  async #endSession(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.close();
  }
}
