/**
 * The medians the A/B scripts print (`snapshots_ab.ts`, `encrypted_ab.ts`, `restore_ab.ts`): each
 * run is `[wall ms, client CPU ms, server CPU ms]`, and a step's line gives the median of each.
 *
 * @module
 */

/** One run of a step: wall time, the client's CPU and the server's, in milliseconds. */
export type Run = number[];

/** The median of `values` (the upper one of an even count). */
export function median(values: number[]): number {
  return values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** The `MEDIAN` line of checkout `co`'s runs of `step`. */
export function medianLine(co: string, step: string, runs: Run[]): string {
  const of = (at: number) => Math.round(median(runs.map((run) => run[at])));
  return `MEDIAN ${co} ${step}: wall ${of(0)} client ${of(1)} server ${of(2)}`;
}
