/**
 * What a version costs against a quota besides its bytes: every version (and, on S3, every
 * deletion record) takes room for its name and metadata, whatever its size, so an empty file is not
 * free. Without this charge a user could grow the root without limit under any quota, with empty
 * files under long names (figures: docs/storage.md).
 *
 * On the embedded index the charge follows SQLite's B-tree rules (https://www.sqlite.org/fileformat2.html,
 * "Cell Payload Overflow Pages"): a name too long for an index cell spills onto an overflow page of
 * its own, a whole page for a few hundred bytes, so a long name costs far more than its length
 * times its copies (measured in docs/storage.md). The charge is computed in SQL too (`versionChargeSql`), by the index's triggers.
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
 * Bytes charged for every stored chunk besides its stored bytes: its entry in its pack's header
 * (44), its row and its entry in the index by id (about 100 together), and a reference from a
 * chunk list (a few dozen; a chunk named by many versions is charged once).
 */
export const BLOB_OVERHEAD_BYTES = 160;

/** The index's page size (SQLite's default: `prepareIndex` does not change it). */
export const INDEX_PAGE_BYTES = 4096;

/**
 * Most bytes an index entry holds besides its name: the record's header (6 bytes for a name up to
 * 8,185 bytes) and three integers of up to 8 bytes (user, time, row id).
 */
export const INDEX_KEY_EXTRA_BYTES = 30;

/**
 * Most bytes a version's row holds besides its name and inline content: its header and its other
 * columns (integers of up to 8 bytes, the SHA-256, a data file's name).
 */
export const ROW_EXTRA_BYTES = 160;

/** The B-tree limits of SQLite for a page of `INDEX_PAGE_BYTES` (no reserved bytes). */
const U = INDEX_PAGE_BYTES;
/** Most payload an index cell keeps on its page: (U-12)*64/255-23. */
export const INDEX_MAX_LOCAL = Math.floor((U - 12) * 64 / 255) - 23;
/** Most payload a table row keeps on its page: U-35. */
export const TABLE_MAX_LOCAL = U - 35;
/** Least payload a cell that spills keeps on its page: (U-12)*32/255-23. */
export const MIN_LOCAL = Math.floor((U - 12) * 32 / 255) - 23;
/** Payload bytes per overflow page (the rest is the next page's number). */
const OVERFLOW_BYTES = U - 4;

/**
 * Bytes charged for one copy of a name of `nameBytes` in a cell of payload `nameBytes + extra`:
 * the name itself while the cell fits on its page (the fixed overhead pays for the rest), else the
 * bytes kept on the page and every overflow page, whole.
 */
function nameCopyCharge(nameBytes: number, extra: number, maxLocal: number): number {
  const payload = nameBytes + extra;
  if (payload <= maxLocal) return nameBytes;
  const spill = MIN_LOCAL + (payload - MIN_LOCAL) % OVERFLOW_BYTES;
  const local = spill <= maxLocal ? spill : MIN_LOCAL;
  return local + Math.ceil((payload - local) / OVERFLOW_BYTES) * U;
}

/**
 * Bytes a version of a name of `nameBytes` UTF-8 bytes is charged on the embedded index, besides
 * its content: the fixed overhead, a name's worth for pages not full, the name in the row and in
 * two indexes, each as SQLite stores it (`nameCopyCharge`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(indexVersionCharge(10), 296);
 * assert.equal(indexVersionCharge(1024), 11_474);
 * ```
 */
export function indexVersionCharge(nameBytes: number): number {
  return VERSION_OVERHEAD_BYTES + nameBytes +
    nameCopyCharge(nameBytes, ROW_EXTRA_BYTES, TABLE_MAX_LOCAL) +
    2 * nameCopyCharge(nameBytes, INDEX_KEY_EXTRA_BYTES, INDEX_MAX_LOCAL);
}

/** `nameCopyCharge` as an SQL expression of the name's length `n` (an SQL expression). */
function nameCopyChargeSql(n: string, extra: number, maxLocal: number): string {
  const payload = `(${n} + ${extra})`;
  const spill = `(${MIN_LOCAL} + (${payload} - ${MIN_LOCAL}) % ${OVERFLOW_BYTES})`;
  const local = `(CASE WHEN ${spill} <= ${maxLocal} THEN ${spill} ELSE ${MIN_LOCAL} END)`;
  const pages = `((${payload} - ${local} + ${OVERFLOW_BYTES - 1}) / ${OVERFLOW_BYTES})`;
  return `(CASE WHEN ${payload} <= ${maxLocal} THEN ${n} ELSE ${local} + ${pages} * ${U} END)`;
}

/**
 * `indexVersionCharge` as an SQL expression (integer arithmetic) of `nameLength`, an SQL expression
 * of the name's length in bytes: what the index's triggers add up per user.
 */
export function versionChargeSql(nameLength: string): string {
  const n = `CAST(${nameLength} AS INTEGER)`; // integer division, whatever the argument's type
  return `(${VERSION_OVERHEAD_BYTES} + ${n} + ${
    nameCopyChargeSql(n, ROW_EXTRA_BYTES, TABLE_MAX_LOCAL)
  } + 2 * ${nameCopyChargeSql(n, INDEX_KEY_EXTRA_BYTES, INDEX_MAX_LOCAL)})`;
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
