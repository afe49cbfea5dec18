/**
 * What a version costs against a quota besides its bytes: every version (and, on S3, every
 * deletion record) takes room for its name and metadata, whatever its size, so an empty file is not
 * free. Without this charge a user could grow the root without limit under any quota, with empty
 * files under long names (30,000 of them with 970-byte names grew the index by 115 MiB under a
 * 1 KiB quota).
 *
 * @module
 */

/**
 * Bytes charged for every version whatever its name and size: its row's metadata (sizes, times,
 * mode, SHA-256, ids) and its entries in the index's B-trees. Measured on the embedded index: a
 * deleted version with a 10-byte name takes 150 bytes of the database file (S3: a record key's
 * fields besides the name are under 140 bytes).
 */
export const VERSION_OVERHEAD_BYTES = 256;

/**
 * Times each byte of a name is charged on the embedded index: a version's name is stored in its
 * row and in two indexes (by name and time; current names or past ones), in B-tree pages that are
 * not full. Measured: 451 bytes for a 100-byte name, 3,620 for a 970-byte name (3.6 per byte).
 */
export const INDEX_NAME_COPIES = 4;

/**
 * Bytes a version of a name of `nameBytes` UTF-8 bytes is charged on the embedded index, besides
 * its content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(indexVersionCharge(10), 296);
 * ```
 */
export function indexVersionCharge(nameBytes: number): number {
  return VERSION_OVERHEAD_BYTES + INDEX_NAME_COPIES * nameBytes;
}

/**
 * Bytes a record (a version, or a deletion) is charged on S3, besides its content: the name as its
 * key spells it (`encodedNameBytes`, see `encodeName`), once, and the fixed overhead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(recordCharge(10), 266);
 * ```
 */
export function recordCharge(encodedNameBytes: number): number {
  return VERSION_OVERHEAD_BYTES + encodedNameBytes;
}
