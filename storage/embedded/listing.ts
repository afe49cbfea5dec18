/**
 * Lists of names: no read transaction ever waits on a client, so a client that reads slowly never
 * pins the index's log (SQLite cannot restart a log that a reader still sees, and the log would
 * grow with every upload meanwhile). Listings with metadata (`version_listing.ts`) read a page per
 * statement by name (keyset paging); the plain list of names is one moment, spooled to a scratch
 * file at the server's pace, within a budget of scratch bytes shared by every list of the server.
 * The event loop gets a turn between any two pages.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { FileListing } from "../storage.ts";
import { type ScratchBudget, type ScratchFile, Spool } from "./spool.ts";

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

/** How long a listing may work between two turns of the event loop, in milliseconds. */
export const LISTING_SLICE_MS = 4;

/**
 * Lets the event loop run (timers, sockets, other clients' requests) once a listing has worked
 * `LISTING_SLICE_MS` since it last did. A timer's macrotask is the yield that lets sockets in (a
 * microtask, `setImmediate` or a channel message do not), but it costs more than a page of names
 * takes: once per slice, not after every page (docs/storage.md).
 *
 * @example
 * ```ts
 * import { TurnTaker } from "./listing.ts";
 * import assert from "node:assert/strict";
 * const turns = new TurnTaker();
 * let ticked = false;
 * setTimeout(() => (ticked = true), 0);
 * await turns.pass(); // just made: no turn yet
 * assert.equal(ticked, false);
 * const start = performance.now();
 * while (performance.now() - start < 5) {
 *   // a page's work
 * }
 * await turns.pass();
 * assert.equal(ticked, true);
 * ```
 */
export class TurnTaker {
  #since = performance.now();

  /** Resolves at once within the slice, else after a turn of the event loop. */
  async pass(): Promise<void> {
    if (performance.now() - this.#since < LISTING_SLICE_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#since = performance.now();
  }
}

/**
 * Opens a listing of `userId`'s current names starting with `prefix` (UTF-8 bytes; empty: all),
 * as one moment of the index: the count and byte total describe exactly the names that follow
 * (a version 1 answer declares them first). One read transaction reads the names at the server's
 * own pace into a scratch file, which the client reads at its pace from the first page on: a slow
 * reader holds a file, never the index's log, and memory stays a page. On a disk too full for the
 * file, or once the server's scratch budget is spent, pages wait in memory, a few at most, and the
 * transaction lasts as long as the client takes (nothing can be written meanwhile to grow the log).
 *
 * @param indexPath the index database file
 * @param scratch makes the scratch file; the listing closes it
 * @param budget the scratch bytes all lists may hold; the listing gives its own back when disposed
 */
export function openListing(
  indexPath: string,
  userId: number,
  prefix: Uint8Array,
  scratch: () => ScratchFile,
  budget: ScratchBudget,
): FileListing {
  const { db, release } = openReader(indexPath);
  const finish = () => {
    if (db.isTransaction) db.exec("ROLLBACK");
    release();
  };
  try {
    db.exec("BEGIN");
    const upper = prefix.length === 0 ? AFTER_ALL_NAMES : successor(prefix);
    const totals = prefix.length === 0
      ? db.prepare("SELECT files, name_bytes AS bytes FROM users WHERE user_id = ?").get(userId)
      : db.prepare(
        `SELECT count(*) AS files, total(length(name)) AS bytes FROM versions
         WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?`,
      ).get(userId, prefix, upper);
    const { files, bytes } = (totals ?? { files: 0, bytes: 0 }) as { files: number; bytes: number };
    if (files === 0) {
      finish();
      return { files, nameBytes: 0, pages: noPages(), [Symbol.dispose]: () => {} };
    }
    // One blob per page, built by SQLite: a million names are a thousand values, not a million.
    const page = db.prepare(
      `SELECT CAST(group_concat(name || x'0a', '' ORDER BY name) AS BLOB) AS names,
         max(name) AS last FROM (SELECT name FROM versions
         WHERE user_id = ? AND current = 1 AND name >= ? AND name < ? ORDER BY name LIMIT ?)`,
    );
    // No file once the budget is spent: the pages would go to memory anyway.
    const spool = new Spool(budget.hasRoom ? makeScratch(scratch) : undefined, budget);
    (async () => {
      const turns = new TurnTaker();
      let from = prefix;
      while (!spool.closed) {
        const { names, last } = page.get(userId, from, upper, LIST_PAGE_NAMES) as {
          names: Uint8Array | null;
          last: Uint8Array;
        };
        if (!names) break;
        await spool.append(names);
        from = above(last);
        await turns.pass();
      }
    })().then(() => spool.end(), (error) => spool.end(error)).finally(finish);
    return {
      files,
      nameBytes: bytes,
      pages: spool.pages(),
      [Symbol.dispose]: () => spool[Symbol.dispose](),
    };
  } catch (error) {
    finish();
    throw error;
  }
}

/** A scratch file, or `undefined` if the disk has no room for one (the spool then uses memory). */
function makeScratch(scratch: () => ScratchFile): ScratchFile | undefined {
  try {
    return scratch();
  } catch {
    return undefined;
  }
}

/** The pages of an empty listing. */
async function* noPages(): AsyncGenerator<Uint8Array> {}

/** The smallest name above `name`: itself and a 0. */
export function above(name: Uint8Array): Uint8Array {
  const next = new Uint8Array(name.length + 1);
  next.set(name);
  return next;
}

/** The smallest byte string above every string that starts with `prefix`. */
export function successor(prefix: Uint8Array): Uint8Array {
  const upper = prefix.slice();
  upper[upper.length - 1]++; // never 0xFF in UTF-8, so no carry
  return upper;
}
