/**
 * How long past versions are kept, and how append-only changes it for one user. Both backends
 * apply these rules; see docs/storage.md ("Retention and append-only").
 *
 * @module
 */

/** How long past versions are kept. */
export interface Retention {
  /** Days a replaced or deleted version is kept; 0 keeps none. */
  keepDays: number;
  /** Past versions kept per name at most; 0 keeps none; `undefined`: no limit. */
  keepVersions?: number;
}

/** Whether a user's files are append-only now (asked at each upload, delete and prune). */
export type AppendOnlyOf = (userId: number) => boolean;

/**
 * Retention as it applies to one user's versions. An append-only user's past versions are kept
 * for the days alone, never limited in number: whoever holds the key could otherwise push the
 * owner's versions out of history by uploading new ones.
 *
 * @example
 * ```ts
 * import { retentionFor } from "./retention.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(retentionFor({ keepDays: 30, keepVersions: 2 }, true), { keepDays: 30 });
 * ```
 */
export function retentionFor(retention: Retention, appendOnly: boolean): Retention {
  return appendOnly ? { keepDays: retention.keepDays } : retention;
}

/** True if `retention` keeps no past version: a replace or a delete frees the old bytes at once. */
export function keepsNone(retention: Retention): boolean {
  return retention.keepDays === 0 || retention.keepVersions === 0;
}

/**
 * True if a replace by this user must be refused: the user is append-only and retention (days 0)
 * would drop the version replaced at once, which append-only exists to prevent.
 */
export function refusesReplace(retention: Retention, appendOnly: boolean): boolean {
  return appendOnly && keepsNone(retentionFor(retention, appendOnly));
}
