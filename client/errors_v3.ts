/**
 * What the version 3 client throws besides version 2's errors, and the one place where an answer
 * of a version 3 server that is an error (1001, 1003) becomes the error a caller gets. Refusals are
 * version 2's `ServerRefusedError` (same codes, same messages, so the CLI maps them to exit codes
 * as it does for version 2): a quota refusal is one with `code` 5 (`RefusalCode.QuotaExceeded`).
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { BackupError } from "../common/backup_error.ts";
import { KEY_SLOT_ID_BYTES, OpV3, StatusV3, type TaggedOpV3 } from "../protocol/v3/constants.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import { toHex } from "../common/hex.ts";
import { ServerError, ServerRefusedError } from "./client_errors.ts";
import { BlobUnavailableError } from "./snapshot/blobs.ts";

/** The server answered a version 3 Hello as a server without version 3 does: use version 2. */
export class ProtocolV3UnsupportedError extends ServerError {
  /** Builds the error. */
  constructor() {
    super("the server does not speak protocol version 3 (snapshots); it answered as version 1");
  }
}

/** The server had no answer for `timeoutMs` while requests were waiting for one. */
export class AnswerTimeoutError extends ConnectionLostError {
  /**
   * Builds the error.
   * @param timeoutMs the time waited, in milliseconds
   * @param pending how many requests were waiting
   */
  constructor(readonly timeoutMs: number, readonly pending: number) {
    super(
      `no answer from the server within ${timeoutMs / 1000} s (${pending} request${
        pending === 1 ? "" : "s"
      } waiting)`,
    );
  }
}

/** The server has no snapshot of this id (1001 to a ForgetSnapshot). */
export class SnapshotNotFoundError extends BackupError {
  /**
   * Builds the error.
   * @param id the snapshot's id, as hex
   */
  constructor(readonly id: string) {
    super(`no such snapshot: ${id}`);
  }
}

/** The server has no key slot of this id (1001 to a RemoveKey). */
export class KeySlotNotFoundError extends BackupError {
  /**
   * Builds the error.
   * @param slotId the slot's id, as hex
   */
  constructor(readonly slotId: string) {
    super(`no such key slot: ${slotId}`);
  }
}

/** What each op is, as a refusal's message names it. */
const OP_NAMES: Record<TaggedOpV3, string> = {
  [OpV3.Missing]: "question of which blobs are missing",
  [OpV3.PutBlob]: "upload of a blob",
  [OpV3.GetBlob]: "download of a blob",
  [OpV3.OpenSnapshot]: "start of a snapshot",
  [OpV3.CommitSnapshot]: "commit of a snapshot",
  [OpV3.ListSnapshots]: "list of snapshots",
  [OpV3.ForgetSnapshot]: "forget of a snapshot",
  [OpV3.ListKeys]: "list of key slots",
  [OpV3.AddKey]: "addition of a key slot",
  [OpV3.RemoveKey]: "removal of a key slot",
  [OpV3.Prune]: "prune",
  [OpV3.DropBlobs]: "drop of damaged blobs",
};

/**
 * The error an answer stands for, or `undefined` when it is not an error. The answer has already
 * been paired with its request (`InFlightV3`), so its status answers `op`.
 *
 * @example
 * ```ts
 * import { errorForAnswerV3 } from "./errors_v3.ts";
 * import assert from "node:assert/strict";
 * const error = errorForAnswerV3(11, { status: 1003, tag: 1, code: 5, message: "over quota" });
 * assert.equal((error as { code?: number }).code, 5);
 * ```
 */
export function errorForAnswerV3(op: TaggedOpV3, answer: ResponseV3): Error | undefined {
  if (answer.status === StatusV3.Refused) {
    return new ServerRefusedError(answer.code, answer.message, OP_NAMES[op]);
  }
  if (answer.status !== StatusV3.NotFound) return undefined;
  const id = toHex(answer.id);
  if (op === OpV3.GetBlob) return new BlobUnavailableError(id, "the server has no such blob");
  // A 1001 always carries 32 bytes: a slot id is the first 16 of them.
  if (op === OpV3.RemoveKey) {
    return new KeySlotNotFoundError(toHex(answer.id.subarray(0, KEY_SLOT_ID_BYTES)));
  }
  return new SnapshotNotFoundError(id);
}
