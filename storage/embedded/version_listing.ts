/**
 * Lists of versions with their metadata, as a stream: the current files under a prefix, the files
 * as they were at a time, the versions of one name. As in `listing.ts`, each page is one statement
 * of its own (no read transaction spans pages), pages follow each other by key, and the event loop
 * gets a turn between any two pages, empty or not.
 *
 * Every page does bounded work, whatever the history: a list at a time steps from name to name
 * through the index (one seek per name, never a scan of a name's versions) and looks up each name's
 * version at that time with one more seek; a versions list pages by (stored time, id).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { VersionListing, VersionRecord } from "../storage.ts";
import { metadataOf, type Row } from "./version_rows.ts";
import { above, AFTER_ALL_NAMES, openReader, successor, TurnTaker } from "./listing.ts";

/** Rows read from the index per page (names looked at, for a list at a time). */
export const VERSION_PAGE_ROWS = 1024;

const COLUMNS = "id, name, size, mtime_ms, mode, sha256, stored_ms, ended_ms, deleted";

interface VersionRow extends Row {
  name: Uint8Array;
  ended_ms: number | null;
  deleted: number;
}

/** Which versions to list. */
export type VersionQuery =
  | { kind: "current"; userId: number; prefix: Uint8Array }
  | { kind: "at"; userId: number; prefix: Uint8Array; atMs: number }
  | { kind: "versions"; userId: number; name: Uint8Array };

/** Opens a listing of the versions `query` asks for (see `Storage.entries` and `versions`). */
export function openVersionListing(indexPath: string, query: VersionQuery): VersionListing {
  const { db, isOpen, release } = openReader(indexPath);
  try {
    const readPage = pageReader(db, query);
    return { pages: pages(readPage, isOpen, release), [Symbol.dispose]: release };
  } catch (error) {
    release();
    throw error;
  }
}

/** Where the next page starts: after a name, or after a version (stored time, then id). */
type Cursor = Uint8Array | { storedMs: number; id: number };

/** A page reader: the next page after a cursor; `done` once nothing is left after it. */
type PageReader = {
  first: Cursor;
  read(after: Cursor): { records: VersionRecord[]; last: Cursor; done: boolean };
};

/**
 * The versions a list at a time takes, one row per name looked at: the name's newest version
 * stored by then (`?4`), with its columns only if it had not ended by then. The names come from a
 * walk of the index by name (a seek each), so a page costs the same whatever the names' histories.
 */
const AT_TIME = `
WITH RECURSIVE walk(name, n) AS (
  SELECT (SELECT name FROM versions WHERE user_id = ?1 AND name >= ?2 AND name < ?3
          ORDER BY name LIMIT 1), 1
  UNION ALL
  SELECT (SELECT v.name FROM versions AS v WHERE v.user_id = ?1 AND v.name > walk.name
          AND v.name < ?3 ORDER BY v.name LIMIT 1), n + 1
  FROM walk WHERE walk.name IS NOT NULL AND n < ${VERSION_PAGE_ROWS}
)
SELECT walk.name AS walked, ${COLUMNS.split(", ").map((c) => `v.${c}`).join(", ")}
FROM walk LEFT JOIN versions AS v ON v.id = (
  SELECT id FROM versions WHERE user_id = ?1 AND name = walk.name AND stored_ms <= ?4
  ORDER BY stored_ms DESC, id DESC LIMIT 1
) AND (v.ended_ms IS NULL OR v.ended_ms > ?4)
WHERE walk.name IS NOT NULL ORDER BY walk.n`;

function pageReader(db: DatabaseSync, query: VersionQuery): PageReader {
  if (query.kind === "versions") {
    const statement = db.prepare(
      `SELECT ${COLUMNS} FROM versions WHERE user_id = ? AND name = ?
       AND (stored_ms, id) > (?, ?) ORDER BY stored_ms, id LIMIT ${VERSION_PAGE_ROWS}`,
    );
    return rowPageReader({ storedMs: Number.MIN_SAFE_INTEGER, id: 0 }, {
      rowsAfter: (after) => {
        const { storedMs, id } = after as { storedMs: number; id: number };
        return statement.all(query.userId, query.name, storedMs, id) as unknown as VersionRow[];
      },
      cursorAfter: (row) => ({ storedMs: row.stored_ms, id: row.id }),
      recordsOf: (rows) => rows.map(recordOf),
    });
  }
  const upper = query.prefix.length === 0 ? AFTER_ALL_NAMES : successor(query.prefix);
  if (query.kind === "current") {
    const statement = db.prepare(
      `SELECT ${COLUMNS} FROM versions WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?
       ORDER BY name LIMIT ${VERSION_PAGE_ROWS}`,
    );
    return rowPageReader(query.prefix, {
      rowsAfter: (after) =>
        statement.all(query.userId, after as Uint8Array, upper) as unknown as VersionRow[],
      cursorAfter: (row) => above(row.name),
      recordsOf: (rows) => rows.map(recordOf),
    });
  }
  const statement = db.prepare(AT_TIME);
  const { atMs } = query;
  return rowPageReader(query.prefix, {
    rowsAfter: (after) =>
      statement.all(query.userId, after as Uint8Array, upper, atMs) as unknown as Array<
        VersionRow & { walked: Uint8Array; id: number | null }
      >,
    cursorAfter: (row) => above(row.walked),
    recordsOf: (rows) => rows.filter((row) => row.id !== null).map((row) => atTime(recordOf(row))),
  });
}

/** How a page reader gets a page's rows and steps past them. */
interface RowPages<R> {
  /** The rows after `after`: at most `VERSION_PAGE_ROWS`, fewer only on the last page. */
  rowsAfter(after: Cursor): R[];
  /** Where the page after the one that ends with `row` starts. */
  cursorAfter(row: R): Cursor;
  /** The records a page of rows yields. */
  recordsOf(rows: R[]): VersionRecord[];
}

/** A page reader that starts at `first` and reads rows as `rows` says. */
function rowPageReader<R>(first: Cursor, rows: RowPages<R>): PageReader {
  return {
    first,
    read: (after) => {
      const page = rows.rowsAfter(after);
      const last = page.at(-1);
      return {
        records: rows.recordsOf(page),
        last: last ? rows.cursorAfter(last) : after,
        done: page.length < VERSION_PAGE_ROWS,
      };
    },
  };
}

async function* pages(
  reader: PageReader,
  isOpen: () => boolean,
  release: () => void,
): AsyncGenerator<VersionRecord[]> {
  try {
    const turns = new TurnTaker();
    let after = reader.first;
    while (isOpen()) {
      const page = reader.read(after);
      if (page.records.length > 0) yield page.records;
      if (page.done) return;
      after = page.last;
      // Between pages, empty ones too: a list at a time over many deleted names yields nothing
      // for many pages, and must not hold the event loop meanwhile.
      await turns.pass();
    }
  } finally {
    release();
  }
}

function recordOf(row: VersionRow): VersionRecord {
  return { ...metadataOf(row), name: row.name, endedMs: row.ended_ms, deleted: row.deleted === 1 };
}

/** As seen at the time listed, a version that ended later was still current. */
function atTime(record: VersionRecord): VersionRecord {
  if (record.endedMs === null) return record;
  return { ...record, endedMs: null, deleted: false };
}
