/**
 * `deno run bench/chunk_edits.ts [--size MiB] [--places N]`: what a 1 MiB edit costs in new chunks
 * for several chunker sizes. A random file of `size` MiB, 1 MiB of random bytes overwritten at
 * `places` random offsets (the same offsets for every row), one at a time; prints, per row, the
 * mean chunk size and the new chunk bytes per edit (mean, worst). Pure CPU: no server.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { taskArgs } from "../cli/flags.ts";
import { chunkBoundaries, type ChunkerOptions } from "../chunking/fastcdc.ts";

const { values } = taskArgs(
  "chunk_edits",
  "deno run bench/chunk_edits.ts [--size MiB] [--places N]",
  { size: { type: "string" }, places: { type: "string" } },
);
const MiB = 2 ** 20;
const size = Number(values.size ?? 256) * MiB;
const places = Number(values.places ?? 20);
const ROWS: Array<[string, ChunkerOptions]> = [
  ["512 KiB / 1 MiB, level 2 (restic's sizes)", { minSize: MiB / 2, averageSize: MiB }],
  ["256 KiB / 1 MiB, level 1", { minSize: MiB / 4, averageSize: MiB, normalization: 1 }],
  ["256 KiB / 512 KiB, level 2 (the default)", {}],
  ["256 KiB / 512 KiB, level 1", { normalization: 1 }],
];

function randomFill(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65_536, bytes.length)));
  }
}

/** Chunk ids (hex) and their sizes. */
function chunksOf(bytes: Uint8Array, options: ChunkerOptions): Map<string, number> {
  const chunks = new Map<string, number>();
  let start = 0;
  for (const end of chunkBoundaries(bytes, options)) {
    chunks.set(createHash("sha256").update(bytes.subarray(start, end)).digest("hex"), end - start);
    start = end;
  }
  return chunks;
}

const original = new Uint8Array(size);
randomFill(original);
const offsets = Array.from({ length: places }, () => Math.floor(Math.random() * (size - MiB)));
for (const [label, options] of ROWS) {
  const before = chunksOf(original, options);
  const costs = offsets.map((offset) => {
    const edited = original.slice();
    randomFill(edited.subarray(offset, offset + MiB));
    let added = 0;
    for (const [id, length] of chunksOf(edited, options)) if (!before.has(id)) added += length;
    return added / MiB;
  });
  const mean = costs.reduce((sum, cost) => sum + cost, 0) / costs.length;
  console.log(
    `${label}: mean chunk ${(size / before.size / MiB).toFixed(2)} MiB; new per edit: mean ` +
      `${mean.toFixed(1)} MiB, worst ${Math.max(...costs).toFixed(1)} MiB`,
  );
}
