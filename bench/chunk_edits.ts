/**
 * `deno run bench/chunk_edits.ts [--size MiB] [--edits N]`: what a 1 MiB edit costs in new chunks
 * for several chunker sizes. `edits` times: a new random file of `size` MiB, 1 MiB of it
 * overwritten with new random bytes where the bench's `overwriteMiddle` does, both cut by every
 * row's chunker. A chunk of the edited file is new unless the original had a chunk at the same
 * offsets and the edit does not touch it (an overwrite moves nothing). Prints, per row, the mean
 * chunk size and the new bytes per edit: mean, median, 99th percentile, worst, and how many edits
 * cost over 4 and over 8 MiB (the bound of issue #22). Each edit meets other bytes, so the tail is
 * sampled edit by edit, not from places of one file. Pure CPU: no server.
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { chunkBoundaries, type ChunkerOptions } from "../chunking/fastcdc.ts";

const { values } = taskArgs(
  "chunk_edits",
  "deno run bench/chunk_edits.ts [--size MiB] [--edits N]",
  { size: { type: "string" }, edits: { type: "string" } },
);
const MiB = 2 ** 20;
const size = Number(values.size ?? 24) * MiB;
const edits = Number(values.edits ?? 200);
if (!(size >= 2 * MiB) || !Number.isInteger(edits) || edits < 1) {
  throw new RangeError("--size must be at least 2 (MiB) and --edits a whole number from 1");
}
const ROWS: Array<[string, ChunkerOptions]> = [
  ["512 KiB / 1 MiB, level 2 (restic's sizes)", {
    minSize: MiB / 2,
    averageSize: MiB,
    normalization: 2,
  }],
  ["256 KiB / 512 KiB, level 2 (the default until 2026-12-07)", { normalization: 2 }],
  ["256 KiB / 512 KiB, level 1 (the default)", {}],
  ["256 KiB / 512 KiB, level 0", { normalization: 0 }],
];

function randomFill(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65_536, bytes.length)));
  }
}

/**
 * New chunk bytes of `edited` against `original`, which differ only in `[from, to)`, and how many
 * chunks `original` has.
 */
function newBytes(
  original: Uint8Array,
  edited: Uint8Array,
  [from, to]: [number, number],
  options: ChunkerOptions,
): { added: number; chunks: number } {
  const kept = new Set<string>();
  const ends = chunkBoundaries(original, options);
  let start = 0;
  for (const end of ends) {
    if (end <= from || start >= to) kept.add(`${start}:${end}`);
    start = end;
  }
  let added = 0;
  start = 0;
  for (const end of chunkBoundaries(edited, options)) {
    if (!kept.has(`${start}:${end}`)) added += end - start;
    start = end;
  }
  return { added, chunks: ends.length };
}

const costs = ROWS.map(() => [] as number[]);
const chunkCounts = ROWS.map(() => 0);
const original = new Uint8Array(size);
// As `overwriteMiddle` (bench/corpus_tools.ts): aligned to nothing.
const from = size / 2 - MiB / 2 + 4099;
for (let edit = 0; edit < edits; edit++) {
  randomFill(original);
  const edited = original.slice();
  randomFill(edited.subarray(from, from + MiB));
  ROWS.forEach(([, options], row) => {
    const { added, chunks } = newBytes(original, edited, [from, from + MiB], options);
    costs[row].push(added / MiB);
    chunkCounts[row] += chunks;
  });
}
console.log(
  `${edits} edits of 1 MiB, each in a new random file of ${
    size / MiB
  } MiB; new chunk MiB per edit:`,
);
ROWS.forEach(([label], row) => {
  const sorted = costs[row].sort((a, b) => a - b);
  const at = (share: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
  const mean = sorted.reduce((sum, cost) => sum + cost, 0) / sorted.length;
  console.log(
    `${label}: mean chunk ${(size * edits / chunkCounts[row] / MiB).toFixed(2)} MiB; mean ` +
      `${mean.toFixed(2)}, median ${at(0.5).toFixed(2)}, p99 ${at(0.99).toFixed(2)}, worst ` +
      `${sorted.at(-1)!.toFixed(2)}; over 4 MiB ${sorted.filter((cost) => cost > 4).length}, ` +
      `over 8 MiB ${sorted.filter((cost) => cost > 8).length}`,
  );
});
