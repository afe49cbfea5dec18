/**
 * Clients' waits while the server prunes a large repository: a root of 100,000 versions, a tenth
 * of them past versions the next prune removes (`prune_root.ts`, built through the library), served
 * by a server process (`prune_server.ts`) while 8 clients back up 4 KiB files and retrieve stored
 * small files in a loop over protocol v1. Once they run, the server is told to prune (its clock
 * moves to the day the garbage expires) and does it while serving; every request's latency is
 * recorded, and those that overlapped the prune are the figure: the longest, and the 99th
 * percentile. The same clients before the prune give the baseline.
 *
 * `deno task bench` runs it with everything else; alone:
 * `deno run -P=harness bench/prune_latency.ts [--versions N] [--dir DIR]`.
 *
 * @module
 */
import { serverRunArgs } from "./processes.ts";
import { BackupClient } from "../client/backup_client.ts";
import { type ByteSink, bytesSource } from "../io/byte_stream.ts";
import type { Row } from "./report.ts";
import { percentile } from "./timing.ts";
import {
  buildPruneRoot,
  countRows,
  type IndexCounts,
  type PruneRootReport,
  userOf,
} from "./prune_root.ts";

/** The longest a client may wait during a prune (issue 21). */
export const PRUNE_WAIT_LIMIT_MS = 100;
const CLIENTS = 8;
const USERS = 8;
/** How long the clients run before the prune (the baseline), and after it. */
const BASELINE_MS = 2000;
const AFTER_MS = 500;
const SMALL_FILE_BYTES = 4096;

/** Where and how much. */
export interface PruneLatencyOptions {
  /** Versions in the root. @default 100000 */
  versions?: number;
  /** Temporary files go in a new folder under it (default the system's), removed at the end. */
  dir?: string;
  log?: (text: string) => void;
}

/** Latencies of some requests, in ms. */
export interface WaitFigures {
  requests: number;
  maxMs: number;
  p99Ms: number;
  p50Ms: number;
}

/** What the benchmark measured, as the JSON holds it. */
export interface PruneLatencyFigures {
  root: PruneRootReport;
  before: IndexCounts;
  after: IndexCounts;
  /** What the server's prune reported: versions removed, its time, garbage collection steps. */
  prune: { removed: number; pruneMs: number; repacks: number; emptyPackSteps: number };
  /** Requests that overlapped the prune. */
  duringPrune: WaitFigures;
  /** Requests of the same clients before the prune. */
  baseline: WaitFigures;
}

/** Runs the benchmark; returns the table's rows and the figures. */
export async function pruneLatencyRows(
  options: PruneLatencyOptions = {},
): Promise<{ rows: Row[]; figures: PruneLatencyFigures }> {
  const log = options.log ?? (() => {});
  const versions = options.versions ?? 100_000;
  const dir = await Deno.makeTempDir({ dir: options.dir, prefix: "backup-prune-" });
  try {
    const root = `${dir}/root`;
    log(`building a root of ${versions} versions through the library`);
    const built = await buildPruneRoot({ root, versions, users: USERS, nowMs: Date.now() });
    log(`built in ${(built.buildMs / 1000).toFixed(1)} s`);
    const before = countRows(root);
    const { prune, requests, pruneWindow } = await serveAndPrune(root, built);
    const after = countRows(root);
    const overlapping = requests.filter((r) =>
      r.end >= pruneWindow.start && r.start <= pruneWindow.end
    );
    const earlier = requests.filter((r) => r.end < pruneWindow.start);
    const figures: PruneLatencyFigures = {
      root: built,
      before,
      after,
      prune,
      duringPrune: waits(overlapping),
      baseline: waits(earlier),
    };
    const during = figures.duringPrune;
    const label = `${versions.toLocaleString("en-US")} versions, 10% garbage`;
    const rows: Row[] = [
      {
        what: `longest client wait during a prune of ${label} (8 clients, p99 ${
          during.p99Ms.toFixed(1)
        } ms, ${during.requests} requests)`,
        value: `${during.maxMs.toFixed(1)} ms`,
        limit: `${PRUNE_WAIT_LIMIT_MS} ms`,
        ratio: during.maxMs <= PRUNE_WAIT_LIMIT_MS ? "met" : "missed",
      },
      {
        what: `  the prune itself (${prune.removed} versions, ${
          before.blobs - after.blobs
        } chunks, ${before.packs - after.packs} packs fewer, ${prune.repacks} repacked)`,
        value: `${(prune.pruneMs / 1000).toFixed(2)} s`,
      },
      {
        what: `  the same clients before the prune (p99 ${figures.baseline.p99Ms.toFixed(1)} ms)`,
        value: `${figures.baseline.maxMs.toFixed(1)} ms`,
      },
    ];
    return { rows, figures };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Request {
  start: number;
  end: number;
}

/** Starts the server on `root`, runs the clients, has the server prune; stops it all. */
async function serveAndPrune(root: string, built: PruneRootReport) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...serverRunArgs(root),
      new URL("./prune_server.ts", import.meta.url).pathname,
      root,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const input = child.stdin.getWriter();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the prune server exited");
      buffered += value;
    }
    const end = buffered.indexOf("\n");
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    return JSON.parse(line);
  };
  try {
    const { port } = await nextLine() as { port: number };
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => BackupClient.connect({ userId: 1 + i, port })),
    );
    const requests: Request[] = [];
    let stop = false;
    const content = new Uint8Array(SMALL_FILE_BYTES).fill(7);
    const discard: ByteSink = { write: (bytes) => Promise.resolve(bytes.length) };
    const running = Promise.all(clients.map(async (client, worker) => {
      for (let n = 0; !stop; n++) {
        const start = performance.now();
        if (n % 2 === 0) {
          await client.backup(`live/${n % 40}`, bytesSource(content), content.length);
        } else {
          await client.retrieve(`keep/${keepNameOf(worker + 1, n, built)}`, discard);
        }
        requests.push({ start, end: performance.now() });
      }
    }));
    try {
      await waitMs(BASELINE_MS);
      const start = performance.now();
      await input.write(new TextEncoder().encode("prune\n"));
      const prune = await nextLine();
      const end = performance.now();
      await waitMs(AFTER_MS);
      stop = true;
      await running;
      return { prune, requests, pruneWindow: { start, end } };
    } finally {
      stop = true;
      await running.catch(() => {});
      for (const client of clients) client.close();
    }
  } finally {
    await input.close().catch(() => {});
    await lines.cancel().catch(() => {});
    const { success } = await child.status;
    if (!success) console.error("bench: the prune server did not exit cleanly");
  }
}

/** A name `keep/N` of `userId`, different at each call (a read of the index, not the cache). */
function keepNameOf(userId: number, n: number, built: PruneRootReport): number {
  const perUser = Math.floor(built.keepNames / USERS);
  const k = (n * 7_919) % perUser;
  // Names of user u are the N with userOf(N) = u: N = k * USERS + (u - 1).
  const name = k * USERS + (userId - 1);
  if (userOf(name, USERS) !== userId) throw new Error("keepNameOf: wrong user");
  return name;
}

function waits(requests: Request[]): WaitFigures {
  const sorted = requests.map((r) => r.end - r.start).sort((a, b) => a - b);
  return {
    requests: sorted.length,
    maxMs: sorted.at(-1) ?? NaN,
    p99Ms: percentile(sorted, 99),
    p50Ms: percentile(sorted, 50),
  };
}

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) {
  const { taskArgs } = await import("../cli/flags.ts");
  const { values } = taskArgs(
    "prune_latency",
    "deno run -P=harness bench/prune_latency.ts [--versions N] [--dir DIR]\n\nClients' waits while the server prunes a root of N versions, 10% of them garbage.\n  --versions N  versions in the root (default 100000)\n  --dir DIR     where the temporary root goes (default the system temp folder)",
    { versions: { type: "string" }, dir: { type: "string" } },
  );
  const { rows, figures } = await pruneLatencyRows({
    versions: values.versions === undefined ? undefined : Number(values.versions),
    dir: values.dir,
    log: (text) => console.error(`prune_latency: ${text}`),
  });
  for (const row of rows) {
    console.log(`| ${row.what} | ${row.value} | ${row.limit ?? ""} | ${row.ratio ?? ""} |`);
  }
  console.log(JSON.stringify(figures, null, 2));
}
