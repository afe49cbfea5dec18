/**
 * How `forget` prints its plan: per group a header and restic's tables (kept snapshots with the
 * reasons they are kept; removed ones) for people, and restic's JSON array of groups for scripts.
 *
 * @module
 */
import type { ForgetGroup } from "../client/snapshot/forget_plan.ts";
import type { SnapshotInfo } from "../client/snapshot/snapshot_select.ts";
import { printable } from "../client/safe_paths.ts";
import { localTime, shortId, snapshotJson } from "./snapshot_render.ts";

/** restic's group header: `snapshots for (host [h1], paths [/a, /b]):`; `""` for no grouping. */
export function groupHeader(group: ForgetGroup): string {
  const parts = [
    group.key.host === "" ? "" : `host [${group.key.host}]`,
    group.key.tags === null ? "" : `tags [${group.key.tags.join(", ")}]`,
    group.key.paths === null ? "" : `paths [${group.key.paths.join(", ")}]`,
  ].filter((part) => part !== "");
  return parts.length === 0 ? "" : `snapshots for (${parts.join(", ")}):`;
}

/**
 * A table of snapshots, newest first as the plan lists them; with `reasons` (one list per
 * snapshot), a Reasons column: one line per reason, as restic's `PrintSnapshots`.
 */
export function forgetTable(list: SnapshotInfo[], reasons?: string[][]): string {
  const head = ["ID", "Time", "Host", "Tags", ...(reasons ? ["Reasons"] : []), "Paths"];
  const rows = list.map(({ id, record }, i) => {
    const cells = [
      [shortId(id)],
      [localTime(record.timeMs)],
      [record.host],
      [record.tags.join(",")],
      ...(reasons ? [reasons[i]] : []),
      record.paths.map(printable),
    ];
    return cells.map((lines) => lines.length === 0 ? [""] : lines);
  });
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.flatMap((row) => row[c].map((line) => line.length)))
  );
  const line = (cells: string[]) =>
    cells.map((cell, c) => c === cells.length - 1 ? cell : cell.padEnd(widths[c])).join("  ")
      .trimEnd();
  const rule = "-".repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out = [line(head), rule];
  for (const row of rows) {
    const height = Math.max(...row.map((lines) => lines.length));
    for (let l = 0; l < height; l++) out.push(line(row.map((lines) => lines[l] ?? "")));
  }
  out.push(rule);
  out.push(`${list.length} snapshot${list.length === 1 ? "" : "s"}`);
  return out.join("\n");
}

/** Everything `forget` prints for people about one group. */
export function groupText(group: ForgetGroup): string {
  const out: string[] = [];
  const header = groupHeader(group);
  if (header !== "") out.push(header);
  if (group.keep.length > 0) {
    out.push(`keep ${group.keep.length} snapshots:`);
    out.push(forgetTable(group.keep, group.reasons.map((r) => r.matches)), "");
  }
  if (group.remove.length > 0) {
    out.push(`remove ${group.remove.length} snapshots:`);
    out.push(forgetTable(group.remove), "");
  }
  return out.join("\n");
}

/**
 * The plan as restic's `forget --json` prints it: one object per group with its key (`host`,
 * `paths`, `tags`; `""`/`null` if not grouped by), `keep`, `remove` and `reasons` (each with the
 * snapshot, `matches` and `counters`). Snapshots carry `snapshots --json`'s fields.
 */
export function forgetJson(groups: ForgetGroup[]): Record<string, unknown>[] {
  return groups.map((group) => ({
    tags: group.key.tags,
    host: group.key.host,
    paths: group.key.paths,
    keep: group.keep.map(snapshotJson),
    remove: group.remove.map(snapshotJson),
    reasons: group.reasons.map((reason) => ({
      snapshot: snapshotJson(reason.snapshot),
      matches: reason.matches,
      counters: reason.counters,
    })),
  }));
}
