/**
 * The client's one table between version 1's error statuses and the errors it throws for them:
 * read one way by the client library, the other way by the original client's session (`run`),
 * which prints statuses.
 *
 * @module
 */
import { Status } from "../protocol/constants.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { ServerError } from "./client_errors.ts";

const TABLE = [
  {
    status: Status.FileNotFound,
    make: (name: string) => new FileNotFoundError(name),
    is: (error: unknown) => error instanceof FileNotFoundError,
  },
  {
    status: Status.GeneralError,
    make: (name: string) =>
      new ServerError(`the server answered "general error" (1003)${name ? ` for ${name}` : ""}`),
    is: (error: unknown) => error instanceof ServerError,
  },
] as const;

/** The error an error status stands for, or `undefined` if the status is not an error. */
export function errorForStatus(status: number, name: string): Error | undefined {
  return TABLE.find((row) => row.status === status)?.make(name);
}

/**
 * The status an error stands for, or `undefined` if it is not a server's answer.
 *
 * @example
 * ```ts
 * import { errorForStatus, statusForError } from "./status_errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(statusForError(errorForStatus(1001, "a.txt")), 1001);
 * ```
 */
export function statusForError(error: unknown): number | undefined {
  return TABLE.find((row) => row.is(error))?.status;
}
