/**
 * Lists as a stream of pages, each read by a statement of its own: no read transaction spans two
 * pages, so a client that reads slowly never pins the index's log (SQLite cannot restart a log that
 * a reader still sees, and the log would grow with every upload meanwhile). Pages follow each other
 * by name (keyset paging), and the event loop gets a turn between any two pages.
 *
 * Each page is one moment of the index; the list as a whole is not. Other users' changes never show
 * in it (a list is one user's); the user's own changes made while the list is read may: a name
 * added or removed behind the page being read. A version 1 list declares its count first: if the
 * user's own changes made the names differ from it, the answer is cut short (see `sendListing`).
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
export const AFTER_ALL_NAMES = new Uint8Array([0xff]);

/**
 * A read-only connection of its own, without a transaction: each statement it runs is its own
 * moment of the index, and holds the log only while it runs. `release` is safe to call more than
 * once.
 */
export function openReader(
  indexPath: string,
): { db: DatabaseSync; isOpen: () => boolean; release: () => void } {
  const db = new DatabaseSync(indexPath, { readOnly: true });
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    db.close();
  };
  try {
    db.exec(`PRAGMA cache_size = -${LISTING_CACHE_KIB}`);
  } catch (error) {
    release();
    throw error;
  }
  return { db, isOpen: () => open, release };
}

/**
 * Lets the event loop run (timers, sockets, other clients' requests) before the next page: a
 * macrotask, not a microtask, which would run before any of them.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Opens a listing of `userId`'s current names starting with `prefix` (UTF-8 bytes; empty: all).
 *
 * @param indexPath the index database file
 */
export function openListing(indexPath: string, userId: number, prefix: Uint8Array): FileListing {
  const { db, isOpen, release } = openReader(indexPath);
  try {
    const upper = prefix.length === 0 ? AFTER_ALL_NAMES : successor(prefix);
    const totals = prefix.length === 0
      ? db.prepare("SELECT files, name_bytes AS bytes FROM users WHERE user_id = ?").get(userId)
      : db.prepare(
        `SELECT count(*) AS files, total(length(name)) AS bytes FROM versions
         WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?`,
      ).get(userId, prefix, upper);
    const { files, bytes } = (totals ?? { files: 0, bytes: 0 }) as { files: number; bytes: number };
    // One blob per page, built by SQLite: a million names are a thousand values, not a million.
    const page = db.prepare(
      `SELECT CAST(group_concat(name || x'0a', '' ORDER BY name) AS BLOB) AS names,
         max(name) AS last FROM (SELECT name FROM versions
         WHERE user_id = ? AND current = 1 AND name >= ? AND name < ? ORDER BY name LIMIT ?)`,
    );
    const readPage = (from: Uint8Array) =>
      page.get(userId, from, upper, LIST_PAGE_NAMES) as {
        names: Uint8Array | null;
        last: Uint8Array;
      };
    if (files === 0) release();
    return {
      files,
      nameBytes: bytes,
      pages: pages(readPage, prefix, isOpen, release),
      [Symbol.dispose]: release,
    };
  } catch (error) {
    release();
    throw error;
  }
}

/** Pages from `from` on, each starting just above the last name of the one before. */
async function* pages(
  readPage: (from: Uint8Array) => { names: Uint8Array | null; last: Uint8Array },
  from: Uint8Array,
  isOpen: () => boolean,
  release: () => void,
): AsyncGenerator<Uint8Array> {
  try {
    while (isOpen()) {
      const { names, last } = readPage(from);
      if (!names) return;
      yield names;
      from = new Uint8Array(last.length + 1); // the smallest name above `last`: itself and a 0
      from.set(last);
      await nextTurn();
    }
  } finally {
    release();
  }
}

/** The smallest byte string above every string that starts with `prefix`. */
export function successor(prefix: Uint8Array): Uint8Array {
  const upper = prefix.slice();
  upper[upper.length - 1]++; // never 0xFF in UTF-8, so no carry
  return upper;
}
