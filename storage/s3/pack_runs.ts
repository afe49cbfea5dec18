/**
 * How a repack reads an old pack (`repack.ts`, `snapshot_repack.ts`): its live chunks in runs of
 * adjacent ones, one ranged GET each.
 *
 * @example
 * ```ts
 * import { runsOf } from "./pack_runs.ts";
 * import assert from "node:assert/strict";
 * const at = (offset: number, storedLength: number) => ({
 *   id: new Uint8Array(32), pack: "a.1", offset, storedLength, rawLength: storedLength,
 *   compression: "none" as const,
 * });
 * const runs = runsOf([at(0, 10), at(10, 5), at(40, 5)]);
 * assert.deepEqual(runs.map((run) => run.map((chunk) => chunk.offset)), [[0, 10], [40]]);
 * ```
 *
 * @module
 */
import type { ChunkLocation } from "./chunk_list.ts";

/** Bytes one ranged GET of an old pack brings at most. */
export const RUN_BYTES = 16 * 1024 * 1024;

/** `chunks` (sorted by offset) cut into runs of adjacent chunks, `RUN_BYTES` at most each. */
export function runsOf(chunks: readonly ChunkLocation[]): ChunkLocation[][] {
  const runs: ChunkLocation[][] = [];
  let run: ChunkLocation[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    const last = run.at(-1);
    const adjacent = last && chunk.offset === last.offset + last.storedLength;
    if (run.length > 0 && (!adjacent || bytes + chunk.storedLength > RUN_BYTES)) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(chunk);
    bytes += chunk.storedLength;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
