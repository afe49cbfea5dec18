/** Small timing helpers for the benchmark. */

/** Bytes moved and how long it took. */
export interface Throughput {
  bytes: number;
  ms: number;
  /** MiB per second. */
  mibPerSecond: number;
}

/** Times `run`, which moves `bytes` bytes. */
export async function timeThroughput(bytes: number, run: () => Promise<void>): Promise<Throughput> {
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  return { bytes, ms, mibPerSecond: bytes / 2 ** 20 / (ms / 1000) };
}

/** What `runFor` counted. */
export interface RunResult {
  count: number;
  elapsedMs: number;
  /** Latency of each operation, in ms, sorted. */
  latencies: number[];
}

/**
 * Runs `operation` in a loop on `workers` concurrent workers for `seconds`, and counts completions.
 * `operation` gets the worker index and that worker's operation number.
 */
export async function runFor(
  seconds: number,
  workers: number,
  operation: (worker: number, n: number) => Promise<void>,
): Promise<RunResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const begun = performance.now();
      await operation(worker, n);
      latencies.push(performance.now() - begun);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, elapsedMs: performance.now() - started, latencies };
}

/** The p-th percentile (0..100) of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs a measurement three times and keeps the fastest: disks and shared machines wander. */
export async function bestOfThree(measure: () => Promise<Throughput>): Promise<Throughput> {
  const runs = [await measure(), await measure(), await measure()];
  return runs.reduce((a, b) => (b.ms < a.ms ? b : a));
}
