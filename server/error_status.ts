import { Status } from "../protocol/constants.ts";
import { encodeResponseHeader } from "../protocol/response.ts";
import { RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeResponseV2 } from "../protocol/v2/responses.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { InvalidNameError, NoFilesError, ProtocolError } from "../protocol/errors.ts";
import {
  CorruptStoreError,
  DeleteRefusedError,
  DigestMismatchError,
  LimitExceededError,
  NameConflictError,
  NameRefusedError,
  NoSuchFileError,
  QuotaExceededError,
  ReplaceRefusedError,
  UnsafePathError,
} from "../storage/errors.ts";
import { UnsafeObjectError } from "../objects/object_store.ts";
import {
  BlobMismatchError,
  EncryptedAlreadyError,
  KeySlotConflictError,
  KeySlotLimitError,
  LastKeySlotError,
  NoSuchBlobError,
  NoSuchKeySlotError,
  NoSuchSnapshotError,
  PlainSnapshotsError,
  PruneBusyError,
  RepositoryModeError,
  SessionClosedError,
} from "../storage/snapshots.ts";
import { CorruptChunkError, MissingChunkError } from "../repository/chunked_source.ts";
import { CorruptBlobError } from "../repository/blob_codec.ts";
import { UnexpectedEofError } from "../io/buffered_reader.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import { AuthFailedError, ForbiddenError, SessionRevokedError } from "./access.ts";
import { encodeHandshakeResponseV3 } from "../protocol/v3/handshake.ts";
import { StatusV3 } from "../protocol/v3/constants.ts";
import { encodeResponseV3 } from "../protocol/v3/responses.ts";
import { NoSnapshotsError } from "./requests_v3.ts";

/** The answer a failed request gets, before it is encoded for the connection's protocol version. */
export type ErrorAnswer =
  | { kind: "not-found" }
  | { kind: "no-files" }
  | { kind: "refused"; code: RefusalCode; message: string };

/** What the server does about a failed request. */
export interface ErrorOutcome {
  /** The answer to send, or `undefined` when none can be sent. */
  answer?: ErrorAnswer;
  /** Close the connection after it (the stream may be out of step, or the peer is refused). */
  close: boolean;
  /** How loud the log line is: `info` for the client's own mistakes, `error` for the unexpected. */
  level: "info" | "warn" | "error";
}

/** What a client is told when the stored copy failed its checks (the log says which chunk). */
export const DAMAGED_MESSAGE =
  "the stored copy of this file is damaged; the server's verify names it";

const refused = (code: RefusalCode, message: string): ErrorAnswer => ({
  kind: "refused",
  code,
  message,
});

/**
 * The one place that decides which answer an error becomes and whether the connection closes.
 * Version 1 sends 1001, 1002 or 1003; version 2 sends 1001 or a 1003 with the refusal code and a
 * message (never the text of an unexpected error, which stays in the server's log).
 */
export function outcomeForError(error: unknown): ErrorOutcome {
  if (
    error instanceof NoSuchFileError || error instanceof NoSuchBlobError ||
    error instanceof NoSuchSnapshotError || error instanceof NoSuchKeySlotError
  ) {
    return { answer: { kind: "not-found" }, close: false, level: "info" };
  }
  if (error instanceof SessionClosedError) {
    // The connection or the store is closing: nothing more is done on it.
    return { answer: refused(RefusalCode.Busy, error.message), close: true, level: "info" };
  }
  if (error instanceof PruneBusyError) {
    // Another server collects the bucket's garbage now: the client may ask again later.
    return { answer: refused(RefusalCode.Busy, error.message), close: false, level: "info" };
  }
  if (
    error instanceof KeySlotConflictError ||
    error instanceof LastKeySlotError || error instanceof PlainSnapshotsError ||
    error instanceof RepositoryModeError || error instanceof EncryptedAlreadyError
  ) {
    // Refused by the rules of the user's repository; the request was read whole, so the session
    // goes on.
    return { answer: refused(RefusalCode.Forbidden, error.message), close: false, level: "info" };
  }
  if (error instanceof KeySlotLimitError) {
    // Before LimitExceededError, which closes: a slot request was read whole (the codec bounds
    // its length), so the stream is in step.
    return { answer: refused(RefusalCode.TooLarge, error.message), close: false, level: "info" };
  }
  if (error instanceof NoSnapshotsError) {
    // A version 3 Hello to a store without snapshots: the client may fall back to version 2.
    return { answer: refused(RefusalCode.BadRequest, error.message), close: true, level: "info" };
  }
  if (error instanceof NoFilesError) {
    return { answer: { kind: "no-files" }, close: false, level: "info" };
  }
  if (error instanceof ConnectionLostError && error.cause instanceof SessionRevokedError) {
    // A transfer under way when the key was removed: part of it is out, so no answer, just the close.
    return { close: true, level: "warn" };
  }
  if (
    error instanceof UnexpectedEofError || error instanceof ConnectionLostError ||
    isSocketFailure(error)
  ) {
    return { close: true, level: "info" };
  }
  if (error instanceof AuthFailedError) {
    // The client learns only that it failed: which part was wrong is for the operator's log.
    const answer = refused(RefusalCode.AuthFailed, "authentication failed");
    return { answer, close: true, level: "warn" };
  }
  if (error instanceof SessionRevokedError) {
    // The operator removed the key or the account: the session ends, and says why (the client
    // holds that key; telling it the key is no longer listed reveals nothing it could use).
    const answer = refused(RefusalCode.AuthFailed, `${error.message}; session closed`);
    return { answer, close: true, level: "warn" };
  }
  if (error instanceof ForbiddenError) {
    const answer = refused(RefusalCode.Forbidden, error.message);
    return { answer, close: error.closes, level: error.closes ? "warn" : "info" };
  }
  if (error instanceof QuotaExceededError) {
    return {
      answer: refused(RefusalCode.QuotaExceeded, error.message),
      close: true,
      level: "info",
    };
  }
  if (error instanceof LimitExceededError) {
    return { answer: refused(RefusalCode.TooLarge, error.message), close: true, level: "info" };
  }
  if (
    error instanceof InvalidNameError || error instanceof ProtocolError ||
    error instanceof NameRefusedError
  ) {
    return { answer: refused(RefusalCode.BadRequest, error.message), close: true, level: "info" };
  }
  if (error instanceof DigestMismatchError || error instanceof BlobMismatchError) {
    const answer = refused(RefusalCode.DigestMismatch, error.message);
    return { answer, close: false, level: "warn" };
  }
  if (error instanceof ReplaceRefusedError || error instanceof DeleteRefusedError) {
    return { answer: refused(RefusalCode.Forbidden, error.message), close: false, level: "info" };
  }
  if (error instanceof NameConflictError) {
    const answer = refused(RefusalCode.NameConflict, error.message);
    return { answer, close: false, level: "info" };
  }
  if (
    error instanceof CorruptChunkError || error instanceof MissingChunkError ||
    error instanceof CorruptBlobError || error instanceof CorruptStoreError
  ) {
    const answer = refused(RefusalCode.ServerFailure, DAMAGED_MESSAGE);
    return { answer, close: false, level: "error" };
  }
  if (error instanceof UnsafePathError || error instanceof UnsafeObjectError) {
    const answer = refused(RefusalCode.ServerFailure, "the server refused a stored path");
    return { answer, close: false, level: "warn" };
  }
  const answer = refused(RefusalCode.ServerFailure, "the server failed; see its log");
  return { answer, close: false, level: "error" };
}

/**
 * Encodes an error answer in the connection's protocol version; `name` is what 1001 echoes.
 * Version 3 here is its handshake (untagged); its tagged requests use `encodeTaggedErrorAnswer`.
 */
export function encodeErrorAnswer(
  answer: ErrorAnswer,
  version: 1 | 2 | 3,
  name: string,
): Uint8Array {
  if (version === 3) {
    const refusal = answer.kind === "refused" ? answer : { code: 0, message: answer.kind };
    return encodeHandshakeResponseV3({ status: StatusV3.Refused, ...refusal });
  }
  if (version === 1) {
    if (answer.kind === "not-found") {
      return encodeResponseHeader({ status: Status.FileNotFound, name });
    }
    if (answer.kind === "no-files") return encodeResponseHeader({ status: Status.NoFiles });
    return encodeResponseHeader({ status: Status.GeneralError });
  }
  if (answer.kind === "not-found") return encodeResponseV2({ status: StatusV2.FileNotFound, name });
  // Version 2 lists are never empty answers: no-files cannot come up there.
  const refusal = answer.kind === "refused" ? answer : { code: 0, message: "no files" };
  return encodeResponseV2({ status: StatusV2.Refused, ...refusal });
}

/**
 * `outcomeForError` for a tagged version 3 request, read in full before its work began: over quota
 * leaves the stream in step, so the session goes on (the client may free space or stop).
 */
export function outcomeForTaggedError(error: unknown): ErrorOutcome {
  const outcome = outcomeForError(error);
  return error instanceof QuotaExceededError ? { ...outcome, close: false } : outcome;
}

/**
 * Encodes an error answer to a tagged version 3 request: 1001 echoes the id asked for, a 1003
 * echoes the tag (`0` when a frame broke before its tag was read).
 */
export function encodeTaggedErrorAnswer(
  answer: ErrorAnswer,
  tag: number,
  id: Uint8Array | undefined,
): Uint8Array {
  if (answer.kind === "not-found" && id) {
    return encodeResponseV3({ status: StatusV3.NotFound, tag, id });
  }
  const refusal = answer.kind === "refused"
    ? answer
    : { code: RefusalCode.ServerFailure, message: "the server failed; see its log" };
  return encodeResponseV3({ status: StatusV3.Refused, tag, ...refusal });
}

/** The status an error answer is sent with, for the log. */
export function statusOf(answer: ErrorAnswer): number {
  if (answer.kind === "not-found") return Status.FileNotFound;
  if (answer.kind === "no-files") return Status.NoFiles;
  return Status.GeneralError;
}
