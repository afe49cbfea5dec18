import { Status } from "../protocol/constants.ts";
import {
  ConnectionLostError,
  FileNotFoundError,
  LimitExceededError,
  NoFilesError,
  ProtocolError,
  UnexpectedEofError,
  UnsafePathError,
} from "../protocol/errors.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import type { ResponseHeaderInit } from "../protocol/response.ts";
import { NameConflictError } from "../storage/storage.ts";

/** What the server does about a failed request. */
export interface ErrorOutcome {
  /** The response to send, or `undefined` when none can be sent. */
  response?: ResponseHeaderInit;
  /** Close the connection after it (the stream may be out of step). */
  close: boolean;
  /** How loud the log line is: `info` for the client's own mistakes, `error` for the unexpected. */
  level: "info" | "warn" | "error";
}

/**
 * The one place that decides which status an error becomes and whether the connection closes.
 *
 * @param error what the request failed with
 * @param name the file name of the request, for statuses that echo it
 */
export function outcomeForError(error: unknown, name = ""): ErrorOutcome {
  if (error instanceof FileNotFoundError) {
    return { response: { status: Status.FileNotFound, name }, close: false, level: "info" };
  }
  if (error instanceof NoFilesError) {
    return { response: { status: Status.NoFiles }, close: false, level: "info" };
  }
  if (
    error instanceof UnexpectedEofError || error instanceof ConnectionLostError ||
    isSocketFailure(error)
  ) {
    return { close: true, level: "info" };
  }
  if (error instanceof ProtocolError || error instanceof LimitExceededError) {
    return { response: { status: Status.GeneralError }, close: true, level: "info" };
  }
  if (error instanceof NameConflictError) {
    return { response: { status: Status.GeneralError }, close: false, level: "info" };
  }
  if (error instanceof UnsafePathError) {
    return { response: { status: Status.GeneralError }, close: false, level: "warn" };
  }
  return { response: { status: Status.GeneralError }, close: false, level: "error" };
}
