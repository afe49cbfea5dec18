/**
 * Helpers of the garbage-collection tests on Swift: GC durations shrunk to seconds, pruning until a
 * run that held the lock did something, and the packs a record names.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import type { S3Storage } from "../../storage/s3/engine.ts";
import type { ChunkGcReport, S3GcOptions } from "../../storage/s3/options.ts";
import { decodeChunkTable } from "../../storage/s3/chunk_list.ts";
import { nameRecordsPrefix } from "../../storage/s3/keys.ts";
import { keysUnder } from "./_s3_storage.ts";

/**
 * G = 5 s, R = 2 s (pins every 1 s, views at most 0.5 s old), pins stale after 8 s, the lock
 * stale after 4 s. G keeps §3.1's inequality with F (the store's lateness) taken as the test's own
 * request times (well under 1 s) and the 2 s of Swift's LastModified rounding as the margin.
 */
export const FAST_GC: S3GcOptions = {
  graceMs: 5000,
  pinStaleMs: 8000,
  pinIntervalMs: 1000,
  viewMaxAgeMs: 500,
  viewRefreshMs: 150,
  viewDropAfterMs: 2500,
  lockSettleMs: 100,
  lockRefreshMs: 300,
  lockRefreshableMs: 2000,
  lockStaleMs: 4000,
};

/** A storage's GC options that record every report in `reports`. */
export function recording(reports: ChunkGcReport[], gc: S3GcOptions = FAST_GC): S3GcOptions {
  return { ...gc, onReport: (report) => void reports.push(report) };
}

/**
 * Prunes through `storage` until `done` holds for the last report (runs that did not get the lock
 * count as tries too); fails after `limitMs`. Each run waits for its own requests: no sleeps but
 * the lock's settle time.
 */
export async function pruneUntil(
  storage: S3Storage,
  reports: ChunkGcReport[],
  done: (report: ChunkGcReport) => boolean,
  what: string,
  limitMs = 30_000,
): Promise<ChunkGcReport> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const before = reports.length;
    await storage.prune();
    const report = reports.at(-1);
    if (reports.length > before && report && done(report)) return report;
  }
  throw new Error(`gave up pruning until ${what} (${reports.length} runs)`);
}

/** The packs (`p/USER/NAME`, relative to the prefix) under the user's folder now. */
export async function packsOf(client: S3Client, prefix: string, userId: number) {
  return new Set(
    (await keysUnder(client, `${prefix}p/${userId}/`)).map(({ key }) => key.slice(prefix.length)),
  );
}

/** The packs a `c` record's chunk list names (relative to the prefix). */
export async function packsNamedBy(client: S3Client, recordKey: string, userId: number) {
  const list = decodeChunkTable(
    "list",
    new Uint8Array(await (await client.get(recordKey)).arrayBuffer()),
  );
  return list.packs.map((pack) => `p/${userId}/${pack}`);
}

/** The keys (relative to the prefix) of the `c` records of `name` (newest first). */
export async function chunkRecordsOf(
  client: S3Client,
  prefix: string,
  userId: number,
  name: string,
) {
  return (await keysUnder(client, nameRecordsPrefix(prefix, userId, name)))
    .map(({ key }) => key).filter((key) => key.split(" ")[2] === "c");
}

/**
 * Runs the pruner script `script` with Deno's `flags` and `args` until it prints a line
 * `TAG {json}`, SIGKILLs it there, and resolves that JSON (undefined if it ended first) and all it
 * printed: a GC run killed at a known step.
 */
export async function killedWhenPrinted<T>(
  script: URL,
  flags: string[],
  args: string[],
  tag: string,
): Promise<{ value: T | undefined; printed: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...flags, script.pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let value: T | undefined;
  let printed = "";
  for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
    printed += text;
    const line = new RegExp(`^${tag} (.*)$`, "m").exec(printed);
    if (line) {
      value = JSON.parse(line[1]);
      child.kill("SIGKILL");
      break;
    }
  }
  await child.status;
  return { value, printed };
}
