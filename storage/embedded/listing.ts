/**
 * Lists as a stream: a read transaction on a connection of its own pins one moment of the index, so
 * that the count and byte total sent first describe exactly the names that follow, however long the
 * client takes to read them, while uploads and deletes go on.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { FileListing } from "../storage.ts";

/** Names read from the index per page. */
export const LIST_PAGE_NAMES = 1024;

/** Page cache of a listing's connection (KiB): a list reads each page of the index once. */
const LISTING_CACHE_KIB = 256;

/** Above every name: valid UTF-8 never holds the byte 0xFF. */
const AFTER_ALL_NAMES = new Uint8Array([0xff]);

/**
 * Opens a listing of `userId`'s current names starting with `prefix` (UTF-8 bytes; empty: all).
 *
 * @param indexPath the index database file
 */
export function openListing(indexPath: string, userId: number, prefix: Uint8Array): FileListing {
  const db = new DatabaseSync(indexPath, { readOnly: true });
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    if (db.isTransaction) db.exec("ROLLBACK");
    db.close();
  };
  try {
    db.exec(`PRAGMA cache_size = -${LISTING_CACHE_KIB}; BEGIN`);
    const upper = prefix.length === 0 ? AFTER_ALL_NAMES : successor(prefix);
    const totals = prefix.length === 0
      ? db.prepare("SELECT files, name_bytes AS bytes FROM users WHERE user_id = ?").get(userId)
      : db.prepare(
        `SELECT count(*) AS files, total(length(name)) AS bytes FROM versions
         WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?`,
      ).get(userId, prefix, upper);
    const { files, bytes } = (totals ?? { files: 0, bytes: 0 }) as { files: number; bytes: number };
    const rows = db.prepare(
      `SELECT name FROM versions WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?
       ORDER BY name`,
    );
    const iterator = rows.iterate(userId, prefix, upper) as Iterator<{ name: Uint8Array }>;
    if (files === 0) release();
    const isOpen = () => open;
    return {
      files,
      nameBytes: bytes,
      pages: pages(iterator, isOpen, release),
      [Symbol.dispose]: release,
    };
  } catch (error) {
    release();
    throw error;
  }
}

/** The names of `rows`, a page at a time, until they end or the listing is released. */
async function* pages(
  rows: Iterator<{ name: Uint8Array }>,
  isOpen: () => boolean,
  release: () => void,
): AsyncGenerator<Uint8Array[]> {
  try {
    while (isOpen()) {
      const page: Uint8Array[] = [];
      for (let next = rows.next(); !next.done; next = rows.next()) {
        page.push(next.value.name);
        if (page.length === LIST_PAGE_NAMES) break;
      }
      if (page.length === 0) return;
      yield page;
    }
  } finally {
    release();
  }
}

/** The smallest byte string above every string that starts with `prefix`. */
function successor(prefix: Uint8Array): Uint8Array {
  const upper = prefix.slice();
  upper[upper.length - 1]++; // never 0xFF in UTF-8, so no carry
  return upper;
}
