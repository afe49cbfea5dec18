/**
 * How the snapshot commands print: the `snapshots` table, `ls` lines (`-l`: restic's long form),
 * `diff` lines, and a backup's summary, for people; JSON objects for scripts.
 *
 * @module
 */
import type { SnapshotRecord } from "../protocol/v3/snapshot.ts";
import type { TreeEntry } from "../protocol/v3/tree.ts";
import type { SnapshotInfo } from "../client/snapshot/snapshot_select.ts";
import { printable } from "../client/safe_paths.ts";
import { formatBytes } from "./progress.ts";

/** A snapshot id as shown: its first 8 hex digits (restic's short id). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A time as `YYYY-MM-DD HH:MM:SS` in local time. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The `snapshots` table, oldest first, as restic prints it. */
export function snapshotTable(list: SnapshotInfo[]): string {
  const rows = list.map(({ id, record }) => [
    shortId(id),
    localTime(record.timeMs),
    record.host,
    record.tags.join(","),
    record.paths.map(printable).join("\n"),
    formatBytes(record.summary.bytes),
  ]);
  const head = ["ID", "Time", "Host", "Tags", "Paths", "Size"];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => Math.max(...row[i].split("\n").map((l) => l.length))))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
      .trimEnd();
  const out = [line(head), "-".repeat(widths.reduce((a, b) => a + b + 2, -2))];
  for (const row of rows) {
    const paths = row[4].split("\n");
    out.push(line([...row.slice(0, 4), paths[0], row[5]]));
    for (const more of paths.slice(1)) out.push(line(["", "", "", "", more, ""]));
  }
  out.push("-".repeat(widths.reduce((a, b) => a + b + 2, -2)));
  out.push(`${list.length} snapshot${list.length === 1 ? "" : "s"}`);
  return out.join("\n");
}

/** A snapshot as JSON (restic's field names where they exist). */
export function snapshotJson(info: SnapshotInfo): Record<string, unknown> {
  const { record } = info;
  return {
    id: info.id,
    short_id: shortId(info.id),
    time: new Date(record.timeMs).toISOString(),
    stored: new Date(info.storedMs).toISOString(),
    tree: record.tree,
    paths: record.paths,
    hostname: record.host,
    username: record.user,
    tags: record.tags,
    parent: record.parent,
    summary: record.summary,
  };
}

/** `drwxr-x---`-style text of an entry's type and mode. */
export function modeText(entry: TreeEntry): string {
  const type = entry.type === "dir" ? "d" : entry.type === "symlink" ? "L" : "-";
  const bits = "rwxrwxrwx";
  let text = "";
  for (let i = 0; i < 9; i++) text += entry.mode & (1 << (8 - i)) ? bits[i] : "-";
  const set = (index: number, flag: number, on: string, off: string) => {
    if (entry.mode & flag) {
      text = text.slice(0, index) + (text[index] === "-" ? off : on) + text.slice(index + 1);
    }
  };
  set(2, 0o4000, "s", "S");
  set(5, 0o2000, "s", "S");
  set(8, 0o1000, "t", "T");
  return type + text;
}

/** One `ls` line: the path, or with `long` restic's `ls -l` columns. */
export function lsLine(path: string, entry: TreeEntry, long: boolean): string {
  const shown = printable(path);
  if (!long) return shown;
  const size = entry.type === "file" ? entry.size : 0;
  const link = entry.type === "symlink" ? ` -> ${printable(entry.target)}` : "";
  return [
    modeText(entry),
    (entry.user ?? String(entry.uid)).padEnd(8),
    (entry.group ?? String(entry.gid)).padEnd(8),
    String(size).padStart(10),
    localTime(entry.mtimeMs),
    shown + link,
  ].join(" ");
}

/** One entry as JSON, for `ls --json` and `find --json`. */
export function entryJson(path: string, entry: TreeEntry): Record<string, unknown> {
  return {
    path,
    name: entry.name,
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    user: entry.user,
    group: entry.group,
    size: entry.type === "file" ? entry.size : undefined,
    mtime: new Date(entry.mtimeMs).toISOString(),
    target: entry.type === "symlink" ? entry.target : undefined,
  };
}

/** The human lines a snapshot backup ends with. */
export function backupSummary(
  id: string,
  record: SnapshotRecord,
  elapsedMs: number,
  errors: number,
): string {
  const s = record.summary;
  return [
    `Files:  ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnmodified} unmodified`,
    `Dirs:   ${s.dirs}`,
    `Added:  ${formatBytes(s.bytesAdded)} (the rest the server had)`,
    `processed ${s.files} files, ${formatBytes(s.bytes)} in ${(elapsedMs / 1000).toFixed(2)} s` +
    (errors > 0 ? `; ${errors} path(s) could not be read (see above)` : ""),
    `snapshot ${shortId(id)} saved`,
  ].join("\n");
}
