/**
 * What both stores check of a DropBlobs request (`SnapshotRepository.dropBlobs`, docs/keys_plan.md
 * §7) before they read anything: the account may drop, the count is bounded, each id is taken
 * once, and what re-reading them costs is within `MAX_DROP_READ_BYTES`.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { DeleteRefusedError, LimitExceededError } from "./errors.ts";
import { MAX_MISSING_IDS } from "./snapshots.ts";

/** Bytes one DropBlobs may make the server read again, at most (the client sends 64 ids). */
export const MAX_DROP_READ_BYTES = 1024 * 1024 * 1024;

/**
 * The ids of a request, each once, in the order given.
 *
 * @throws {DeleteRefusedError} if the user is append-only.
 * @throws {LimitExceededError} for more than `MAX_MISSING_IDS` ids.
 * @example
 * ```ts
 * import { dropRequestIds } from "./drop_request.ts";
 * import assert from "node:assert/strict";
 * const id = new Uint8Array(32).fill(1);
 * assert.equal(dropRequestIds(false, 7, [id, id.slice()]).length, 1);
 * ```
 */
export function dropRequestIds(appendOnly: boolean, userId: number, ids: Uint8Array[]) {
  if (appendOnly) throw new DeleteRefusedError(`blobs of user ${userId}`);
  if (ids.length > MAX_MISSING_IDS) {
    throw new LimitExceededError(`${ids.length} blobs to drop, over ${MAX_MISSING_IDS}`);
  }
  const seen = new Set<string>();
  return ids.filter((id) => !seen.has(toHex(id)) && Boolean(seen.add(toHex(id))));
}

/** @throws {LimitExceededError} if reading `count` blobs of `bytes` in all is over the budget. */
export function checkDropBudget(count: number, bytes: number): void {
  if (bytes > MAX_DROP_READ_BYTES) {
    throw new LimitExceededError(
      `dropping these ${count} blobs means reading ${bytes} bytes again, over ` +
        `${MAX_DROP_READ_BYTES}: send fewer at once`,
    );
  }
}
