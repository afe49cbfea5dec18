/**
 * The table of the snapshot comparison (`bench/snapshots.ts`): this project's figures as the
 * values, restic's and borg's as the limits, ratios to them (and TLS to plain TCP); then the
 * encrypted repository's rows against the plain one's (`snapshots_encrypted.ts`).
 *
 * @module
 */
import type { Row } from "./report.ts";
import type { SnapshotFigures, StepFigures } from "./snapshots.ts";
import { encryptedRows } from "./snapshots_encrypted.ts";
import { mostOfRounds, OURS, OURS_TLS, wireBytes } from "./snapshots_tools.ts";

const MiB = 2 ** 20;
const median = (values: number[]) => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const size = (count: number) =>
  Math.abs(count) < MiB ? `${(count / 1024).toFixed(1)} KiB` : `${(count / MiB).toFixed(1)} MiB`;
const times = (value: number) => Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";

/** The table: ours as the value, restic's and borg's as the limit, ratios to them. */
export function tableRows(figures: SnapshotFigures): Row[] {
  const others = ["restic", "borg"].filter((name) => figures.treeSteps[name] !== null);
  type Steps = Record<string, StepFigures>;
  /** One measure of `part`: ours (plain or TLS) against the others, as `ratio` says. */
  const row = (
    what: string,
    part: Record<string, Steps | null>,
    ours: string,
    pick: (step: Steps) => number,
    format: (value: number) => string,
    ratio: (ours: number, theirs: number, name: string) => string,
  ): Row => {
    const mine = pick(part[ours]!);
    const limit = others.map((name) => `${name} ${format(pick(part[name]!))}`);
    const ratios = others.map((name) => ratio(mine, pick(part[name]!), name));
    if (ours === OURS_TLS) {
      limit.unshift(`plain ${format(pick(part[OURS]!))}`);
      ratios.unshift(`${times(mine / pick(part[OURS]!))} plain's time`);
    }
    return {
      what,
      value: format(mine),
      limit: limit.join("; ") || undefined,
      ratio: ratios.join(", ") || undefined,
    };
  };
  // Times as "× their time" (below 1: faster), speeds as "× their speed" (above 1: faster).
  const timeRatio = (ours: number, theirs: number, name: string) =>
    `${times(ours / theirs)} ${name}'s time`;
  const speedRatio = (ours: number, theirs: number, name: string) =>
    `${times(theirs / ours)} ${name}'s speed`;
  const sizeRatio = (ours: number, theirs: number, name: string) =>
    `${times(ours / theirs)} ${name}'s`;
  const tree = figures.treeSteps;
  const file = figures.fileSteps;
  const cpu = (step: StepFigures) =>
    `client ${seconds(step.clientCpuMs ?? NaN)}, server ${seconds(step.serverCpuMs ?? NaN)}`;
  const treeMib = (figures.tree.bytes / MiB).toFixed(0);
  const fileMib = `${figures.fileBytes / MiB} MiB`;
  const treeRows = (
    [
      ["first", "first backup (#22: at most 0.5× restic's time; TLS within 1.3× of plain)"],
      ["unchanged", "unchanged, second backup (#22: at most 0.5× restic's time)"],
      ["restore", "restore into an empty folder (#22: at most 0.5× restic's time)"],
    ] as const
  ).flatMap(([key, what]) => [
    row(`  ${what}`, tree, OURS, (s) => s[key].ms, seconds, timeRatio),
    row(`    over TLS`, tree, OURS_TLS, (s) => s[key].ms, seconds, timeRatio),
    {
      what: `    CPU during it (client CLI process; server process), plain / TLS`,
      value: `${cpu(tree[OURS]![key])} / ${cpu(tree[OURS_TLS]![key])}`,
    },
  ]);
  return [
    { what: "snapshots (#22): client CLI (v3) next to restic and borg, same run", value: "" },
    ...others.map((name) => ({ what: `  ${figures.describe[name]}`, value: "" })),
    ...figures.missing.map((note) => ({ what: `  ${note}`, value: "" })),
    {
      what: `  a tree of ${figures.tree.files} files of 1-32 KiB (${treeMib} MiB, random bytes), ` +
        `medians of ${figures.treeRounds.length} rounds:`,
      value: "",
    },
    ...treeRows,
    {
      what: "    tar c piped into tar x of the tree (the disk's floor for a restore)",
      value: seconds(median(figures.tarMs)),
      limit: `restore ${seconds(tree[OURS]!.restore.ms)}`,
      ratio: `restore ${times(tree[OURS]!.restore.ms / median(figures.tarMs))} tar's time`,
    },
    row(
      `  a ${fileMib} random file, first backup, median of ${figures.fileRounds.length} rounds (#22: at least 2× restic's speed)`,
      file,
      OURS,
      (s) => s.first.ms,
      seconds,
      speedRatio,
    ),
    row("    over TLS", file, OURS_TLS, (s) => s.first.ms, seconds, speedRatio),
    row(
      "  1 MiB overwritten in its middle, backed up again: time (#22: at most restic's)",
      file,
      OURS,
      (s) => s.changed.ms,
      seconds,
      timeRatio,
    ),
    row("    over TLS", file, OURS_TLS, (s) => s.changed.ms, seconds, timeRatio),
    {
      // A bound: the round that sent the most counts (where the overwrite lands among the
      // chunks moves it from round to round).
      what:
        `    bytes on the wire, both ways, plain / TLS, the most of ${figures.fileRounds.length} rounds (#22: at most 8 MiB)`,
      value: `${size(mostOfRounds(figures, OURS, wireBytes))} / ${
        size(mostOfRounds(figures, OURS_TLS, wireBytes))
      }`,
      limit: "8.0 MiB",
      ratio: `${
        ((mostOfRounds(figures, OURS, wireBytes) / (8 * MiB)) * 100).toFixed(0)
      }% (rounds: ${
        figures.fileRounds.map((round) => size(wireBytes(round[OURS].changed))).join(", ")
      })`,
    },
    row(
      "    store grew by",
      file,
      OURS,
      (s) => s.changed.storeBytesAfter! - s.changed.storeBytesBefore!,
      size,
      sizeRatio,
    ),
    ...encryptedRows(figures),
  ];
}
