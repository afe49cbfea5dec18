/**
 * Which snapshot a command means (docs/snapshots_plan.md §6): `latest`, an id or a unique prefix
 * of at least 8 hex digits, optionally followed by `:PATH` (a path inside it); filters by host,
 * path and tag as restic's; and the parent rule of a backup (the newest snapshot of the same host
 * and the same paths). Pure: the list comes from the session (`listSnapshots`), already decoded.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { BackupError } from "../../common/backup_error.ts";
import { toHex } from "../../common/hex.ts";
import { decodeSnapshot, type SnapshotRecord } from "../../protocol/v3/snapshot.ts";

/** An id prefix names a snapshot only with at least this many hex digits (restic's rule). */
export const MIN_ID_PREFIX = 8;

/** One snapshot as listed: its id (64 hex digits), when the server stored it, and its record. */
export interface SnapshotInfo {
  id: string;
  storedMs: number;
  record: SnapshotRecord;
}

/** What a command line names: `latest` or an id prefix, and a path inside the snapshot. */
export interface SnapshotRef {
  /** `latest`, or the lowercase hex digits given (8..64 of them). */
  name: "latest" | string;
  /** The path after `:`, if any (`/` for the whole snapshot). */
  path?: string;
}

/** Narrows the snapshots a command sees. Empty fields do not narrow. */
export interface SnapshotFilter {
  /** Only this host's (snapshots are per host: `latest` and the parent use it). */
  host?: string;
  /** Only snapshots whose paths include every one of these (absolute, as stored). */
  paths?: string[];
  /**
   * Only snapshots carrying the tags of one of these: each value is a comma-separated list that
   * must all be present (restic's `--tag a,b --tag c`: a and b, or c).
   */
  tags?: string[];
}

/** A snapshot name that is neither `latest` nor 8..64 hex digits. */
export class SnapshotRefError extends BackupError {}

/** No snapshot matches the name (with the filters), or a prefix matches several. */
export class SnapshotSelectError extends BackupError {}

/** A listed entry whose record does not hash to its id, or cannot be decoded. */
export class ListedSnapshotError extends BackupError {}

const HEX = /^[0-9a-f]+$/;

/**
 * Parses `latest`, `ID`, `ID:PATH` or `latest:PATH`.
 *
 * @throws {SnapshotRefError} for anything else.
 * @example
 * ```ts
 * import { parseSnapshotRef } from "./snapshot_select.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseSnapshotRef("latest:/home/u"), { name: "latest", path: "/home/u" });
 * assert.deepEqual(parseSnapshotRef("0A1B2C3D"), { name: "0a1b2c3d" });
 * ```
 */
export function parseSnapshotRef(text: string): SnapshotRef {
  const colon = text.indexOf(":");
  const name = (colon < 0 ? text : text.slice(0, colon)).toLowerCase();
  const path = colon < 0 ? undefined : text.slice(colon + 1);
  if (name !== "latest" && (!HEX.test(name) || name.length < MIN_ID_PREFIX || name.length > 64)) {
    throw new SnapshotRefError(
      `"${text}" names no snapshot: give latest, or an id (at least ${MIN_ID_PREFIX} hex digits), ` +
        `optionally followed by :PATH`,
    );
  }
  if (path === undefined) return { name };
  return { name, path: path === "" ? "/" : path };
}

/**
 * Decodes one listed entry, checking that the record hashes to the id (a server that swapped
 * records would otherwise show one snapshot under another's id).
 *
 * @throws {ListedSnapshotError} if it does not, or the record is not canonical.
 */
export function listedSnapshot(
  entry: { id: Uint8Array | string; storedMs: number; record: Uint8Array; sent?: Uint8Array },
): SnapshotInfo {
  const id = typeof entry.id === "string" ? entry.id : toHex(entry.id);
  const actual = createHash("sha256").update(entry.sent ?? entry.record).digest("hex");
  if (actual !== id) {
    throw new ListedSnapshotError(`snapshot ${id.slice(0, 8)}: its record does not match its id`);
  }
  try {
    return { id, storedMs: entry.storedMs, record: decodeSnapshot(entry.record) };
  } catch (error) {
    throw new ListedSnapshotError(
      `snapshot ${id.slice(0, 8)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Oldest first: by the record's time, then the server's, then the id (a stable order). */
export function sortSnapshots(list: SnapshotInfo[]): SnapshotInfo[] {
  return [...list].sort((a, b) =>
    a.record.timeMs - b.record.timeMs || a.storedMs - b.storedMs ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** The snapshots `filter` lets through, oldest first. */
export function filterSnapshots(list: SnapshotInfo[], filter: SnapshotFilter): SnapshotInfo[] {
  const tagSets = (filter.tags ?? []).map((value) => value.split(",").filter((tag) => tag !== ""));
  return sortSnapshots(list.filter(({ record }) => {
    if (filter.host !== undefined && record.host !== filter.host) return false;
    if (filter.paths?.some((path) => !record.paths.includes(path))) return false;
    if (tagSets.length > 0 && !tagSets.some((set) => set.every((t) => record.tags.includes(t)))) {
      return false;
    }
    return true;
  }));
}

/**
 * The snapshot `ref` names among `list`: `latest` is the newest that `filter` lets through; an
 * id or prefix is looked up among all of them (an id names one snapshot whatever its host).
 *
 * @throws {SnapshotSelectError} if none matches, or a prefix matches several.
 * @example
 * ```ts
 * import { selectSnapshot } from "./snapshot_select.ts";
 * import assert from "node:assert/strict";
 * const summary = {
 *   files: 0, dirs: 0, bytes: 0, filesNew: 0, filesChanged: 0, filesUnmodified: 0, bytesAdded: 0,
 * };
 * const record = (host: string, timeMs: number) => ({
 *   timeMs, tree: "00".repeat(32), paths: ["/p"], host, user: "u", tags: [], summary,
 * });
 * const list = [
 *   { id: "aa".repeat(32), storedMs: 1, record: record("a", 1) },
 *   { id: "bb".repeat(32), storedMs: 2, record: record("b", 2) },
 * ];
 * assert.equal(selectSnapshot(list, { name: "latest" }, { host: "a" }).id, "aa".repeat(32));
 * assert.equal(selectSnapshot(list, { name: "bbbbbbbb" }, { host: "a" }).id, "bb".repeat(32));
 * ```
 */
export function selectSnapshot(
  list: SnapshotInfo[],
  ref: SnapshotRef,
  filter: SnapshotFilter = {},
): SnapshotInfo {
  if (ref.name === "latest") {
    const latest = filterSnapshots(list, filter).at(-1);
    if (!latest) {
      throw new SnapshotSelectError(`no snapshot${describeFilter(filter)}: nothing is "latest"`);
    }
    return latest;
  }
  const found = list.filter((info) => info.id.startsWith(ref.name));
  if (found.length === 0) throw new SnapshotSelectError(`no snapshot ${ref.name}`);
  if (found.length > 1) {
    throw new SnapshotSelectError(
      `${ref.name} names ${found.length} snapshots (${
        found.map((info) => info.id.slice(0, 12)).join(", ")
      }): give more digits`,
    );
  }
  return found[0];
}

/**
 * The parent of a new backup of `paths` on `host` (restic's rule): the newest snapshot of the same
 * host whose paths are the same set; `undefined` if there is none.
 */
export function parentFor(
  list: SnapshotInfo[],
  host: string,
  paths: string[],
): SnapshotInfo | undefined {
  const wanted = [...new Set(paths)].sort().join("\0");
  return filterSnapshots(list, { host }).filter(({ record }) =>
    [...new Set(record.paths)].sort().join("\0") === wanted
  ).at(-1);
}

/**
 * The paths of a backup as the record stores them: absolute (relative ones resolved against
 * `cwd`, `.` and `..` folded as text, as the archiver lays out the tree), each once, sorted, so
 * that the parent rule finds the same set from any working folder.
 */
export function absolutePaths(paths: string[], cwd: string): string[] {
  return [...new Set(paths.map((path) => resolve(cwd, path)))].sort();
}

function describeFilter(filter: SnapshotFilter): string {
  const parts = [
    filter.host === undefined ? "" : ` of host ${filter.host}`,
    filter.paths?.length ? ` with path ${filter.paths.join(", ")}` : "",
    filter.tags?.length ? ` tagged ${filter.tags.join(" or ")}` : "",
  ];
  return parts.join("");
}
