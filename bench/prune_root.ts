/**
 * A root for the prune benchmark, built through the library (`EmbeddedStorage` with an injected
 * clock), not the protocol: 100,000 uploads over loopback would take minutes and measure nothing
 * the prune needs. The server that later opens the root does the prune being measured.
 *
 * The layout, for `versions` versions over `users` users (names spread over users by number):
 * - `old/N`, a tenth of the versions: stored 40 days ago and replaced 39 days ago, so that their
 *   first versions are the garbage of the next prune (`keepDays` 30) once the clock reaches today.
 *   One in a hundred of them is a large file (2-4 MiB of random bytes: chunks in a pack of its own);
 *   half of those are replaced by a version that keeps the first 40% of its bytes (the pack of the
 *   first version keeps a chunk or two: a repack's case), half by new bytes (an empty pack's case).
 * - `keep/N`, the rest: two versions each, stored two days ago (a past version retention keeps).
 * Small files are 256 B to 2 KiB (inline in the index).
 *
 * @module
 */
import { putBytes } from "../harness/put_bytes.ts";
import { DatabaseSync } from "node:sqlite";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { INDEX_FILE_NAME } from "../storage/embedded/options.ts";

const DAY_MS = 86_400_000;
const MiB = 2 ** 20;
/** Bytes per `Upload.write`, as the server's connection loop hands them on. */
/** Uploads in flight while building: enough for the group commit to batch them. */
const BUILD_CONCURRENCY = 32;
/** Days a past version is kept: the server of the benchmark is started with the same. */
export const PRUNE_KEEP_DAYS = 30;

/** What to build. */
export interface PruneRootOptions {
  root: string;
  /** Versions in all (current and past). */
  versions: number;
  /** Users the names are spread over (user ids 1..users). */
  users: number;
  /** "Today" on the clock of the build: ages count back from it. */
  nowMs: number;
}

/** What was built. */
export interface PruneRootReport {
  versions: number;
  /** Past versions the next prune at `nowMs` removes. */
  garbage: number;
  /** Large (chunked) versions among the garbage. */
  largeGarbage: number;
  /** Names `keep/N` (current small files the clients may read), numbered 0..keepNames-1. */
  keepNames: number;
  buildMs: number;
}

/** Rows of the index that the prune changes, counted. */
export interface IndexCounts {
  versions: number;
  pastVersions: number;
  blobs: number;
  packs: number;
}

/** The user a numbered name belongs to. */
export function userOf(n: number, users: number): number {
  return 1 + (n % users);
}

/** Builds the root; see the module comment. */
export async function buildPruneRoot(options: PruneRootOptions): Promise<PruneRootReport> {
  const started = performance.now();
  const garbage = Math.floor(options.versions / 10);
  const keepNames = Math.floor((options.versions - 2 * garbage) / 2);
  const largeGarbage = Math.max(1, Math.floor(garbage / 100));
  let clock = options.nowMs;
  const { storage } = await EmbeddedStorage.open({
    root: options.root,
    retention: { keepDays: PRUNE_KEEP_DAYS },
    pruneIntervalMs: 0,
    now: () => clock,
  });
  try {
    await storage.settled();
    const firstLarge = new Map<number, Uint8Array>();
    clock = options.nowMs - 40 * DAY_MS;
    await inParallel(garbage, async (n) => {
      const bytes = n < largeGarbage ? randomBytes((2 + (n % 3)) * MiB) : smallFile(n, 0);
      if (n < largeGarbage && n % 2 === 1) firstLarge.set(n, bytes);
      await putBytes(storage, userOf(n, options.users), `old/${n}`, bytes);
    });
    clock = options.nowMs - 39 * DAY_MS;
    await inParallel(garbage, async (n) => {
      let bytes: Uint8Array;
      if (n >= largeGarbage) bytes = smallFile(n, 1);
      else {
        const first = firstLarge.get(n);
        bytes = randomBytes(first?.length ?? 2 * MiB);
        if (first) bytes.set(first.subarray(0, Math.floor(first.length * 0.4)));
      }
      await putBytes(storage, userOf(n, options.users), `old/${n}`, bytes);
    });
    firstLarge.clear();
    clock = options.nowMs - 2 * DAY_MS;
    await inParallel(2 * keepNames, async (i) => {
      const n = i % keepNames;
      const version = i < keepNames ? 0 : 1;
      // All first versions before any second one: each name ends with a past version kept.
      await putBytes(storage, userOf(n, options.users), `keep/${n}`, smallFile(n, version));
    });
  } finally {
    await storage.close();
  }
  return {
    versions: 2 * garbage + 2 * keepNames,
    garbage,
    largeGarbage,
    keepNames,
    buildMs: performance.now() - started,
  };
}

/** Counts the rows the prune changes, on a connection of its own (no server may be running). */
export function countRows(root: string): IndexCounts {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      versions: count("SELECT count(*) AS n FROM versions"),
      pastVersions: count("SELECT count(*) AS n FROM versions WHERE current = 0"),
      blobs: count("SELECT count(*) AS n FROM blobs"),
      packs: count("SELECT count(*) AS n FROM packs"),
    };
  } finally {
    db.close();
  }
}

/** Runs `work(0..count-1)` with `BUILD_CONCURRENCY` in flight, in order of starting. */
async function inParallel(count: number, work: (n: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: BUILD_CONCURRENCY }, async () => {
    while (next < count) await work(next++);
  }));
}

/** A small file of 256 B to 2 KiB, different for each name and version. */
function smallFile(n: number, version: number): Uint8Array {
  const bytes = new Uint8Array(256 + ((n * 7919) % 1793));
  const view = new DataView(bytes.buffer);
  for (let at = 0; at + 8 <= bytes.length; at += 8) {
    view.setUint32(at, n, true);
    view.setUint32(at + 4, version * 65_537 + at, true);
  }
  return bytes;
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const MAX_RANDOM = 65_536; // what getRandomValues fills at once
  for (let at = 0; at < size; at += MAX_RANDOM) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + MAX_RANDOM)));
  }
  return bytes;
}
