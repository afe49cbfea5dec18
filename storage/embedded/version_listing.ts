/**
 * Lists of versions with their metadata, as a stream: the current files under a prefix, the files
 * as they were at a time, the versions of one name. Like `listing.ts`, a read transaction on a
 * connection of its own pins one moment of the index, and rows are read a page at a time.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { VersionListing, VersionRecord } from "../storage.ts";
import { metadataOf, type Row } from "./version_index.ts";
import { AFTER_ALL_NAMES, openSnapshot, successor } from "./listing.ts";

/** Rows read from the index per page. */
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
  const { db, isOpen, release } = openSnapshot(indexPath);
  try {
    const readPage = pageReader(db, query);
    return { pages: pages(readPage, isOpen, release), [Symbol.dispose]: release };
  } catch (error) {
    release();
    throw error;
  }
}

/** A page reader: the next page after `after` (a name, or a version id for `versions`). */
type PageReader = {
  first: Uint8Array | number;
  read(after: Uint8Array | number): { records: VersionRecord[]; last: Uint8Array | number } | null;
};

function pageReader(db: DatabaseSync, query: VersionQuery): PageReader {
  if (query.kind === "versions") {
    const statement = db.prepare(
      `SELECT ${COLUMNS} FROM versions WHERE user_id = ? AND name = ? AND id > ?
       ORDER BY id LIMIT ${VERSION_PAGE_ROWS}`,
    );
    return {
      first: 0,
      read: (after) => {
        const rows = statement.all(
          query.userId,
          query.name,
          after as number,
        ) as unknown as VersionRow[];
        return rows.length === 0 ? null : { records: rows.map(recordOf), last: rows.at(-1)!.id };
      },
    };
  }
  const upper = query.prefix.length === 0 ? AFTER_ALL_NAMES : successor(query.prefix);
  const statement: StatementSync = query.kind === "current"
    ? db.prepare(
      `SELECT ${COLUMNS} FROM versions WHERE user_id = ? AND current = 1 AND name >= ? AND name < ?
       ORDER BY name LIMIT ${VERSION_PAGE_ROWS}`,
    )
    // The newest version of each name stored by then; the name existed then unless it had ended.
    : db.prepare(
      `SELECT ${COLUMNS}, max(id) FROM versions WHERE user_id = ? AND name >= ? AND name < ?
       AND stored_ms <= ? GROUP BY name ORDER BY name LIMIT ${VERSION_PAGE_ROWS}`,
    );
  const atMs = query.kind === "at" ? query.atMs : undefined;
  return {
    first: query.prefix,
    read: (after) => {
      const from = after as Uint8Array;
      const rows =
        (atMs === undefined
          ? statement.all(query.userId, from, upper)
          : statement.all(query.userId, from, upper, atMs)) as unknown as VersionRow[];
      if (rows.length === 0) return null;
      const last = rows.at(-1)!.name;
      const next = new Uint8Array(last.length + 1); // the smallest name above `last`
      next.set(last);
      const alive = atMs === undefined
        ? rows
        : rows.filter((row) => row.ended_ms === null || row.ended_ms > atMs);
      return { records: alive.map((row) => atTime(recordOf(row), atMs)), last: next };
    },
  };
}

async function* pages(
  reader: PageReader,
  isOpen: () => boolean,
  release: () => void,
): AsyncGenerator<VersionRecord[]> {
  try {
    let after = reader.first;
    while (isOpen()) {
      const page = reader.read(after);
      if (!page) return;
      if (page.records.length > 0) yield page.records;
      after = page.last;
    }
  } finally {
    release();
  }
}

function recordOf(row: VersionRow): VersionRecord {
  return { ...metadataOf(row), name: row.name, endedMs: row.ended_ms, deleted: row.deleted === 1 };
}

/** As seen at `atMs`, a version that ended later was still current. */
function atTime(record: VersionRecord, atMs: number | undefined): VersionRecord {
  if (atMs === undefined || record.endedMs === null) return record;
  return { ...record, endedMs: null, deleted: false };
}
