/**
 * Helpers of the repack tests on Swift (tests/s3/repack_test.ts): the engine's options, a history
 * whose oldest version's packs end up mostly garbage, each pack's live share as the records say,
 * and pruning until given packs are gone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import type { S3Storage, S3StorageOptions } from "../../storage/s3/engine.ts";
import type { ChunkGcReport, ChunkGcStep } from "../../storage/s3/options.ts";
import { chunkAt, decodeChunkTable } from "../../storage/s3/chunk_list.ts";
import { keysUnder, readWhole, store, type TestS3 } from "./_s3_storage.ts";
import { noise } from "../_snapshots.ts";
import { killedWhenPrinted, packsOf } from "./_gc.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** The user of these tests. */
export const USER = 5;

/** Chunked, 8 MiB packs (the default: a 24 MiB file is three of them), one past version kept. */
export const REPACK_ENGINE: Partial<S3StorageOptions> = {
  chunkFiles: true,
  packTargetBytes: 8 * MiB,
  retention: { keepDays: 30, keepVersions: 1 },
  dedupRefreshMs: 0,
};

/** What `storeLayout` stored, and each pack's live share after its oldest version expired. */
export interface Layout {
  /** `disk.img`'s past version (kept), its id, and its current version; `other.img` is `v2`. */
  v2: Uint8Array;
  v2Id: number;
  v3: Uint8Array;
  /** Packs whose live share is over 0 and under 1/2: to be repacked. */
  low: string[];
  /** Packs nothing names any more: doomed as they are. */
  empty: string[];
  /** Packs half live or more: they stay. */
  full: string[];
  /** Pack → its size and live bytes, as listed and as the records say. */
  shares: Map<string, { size: number; live: number }>;
}

/**
 * Stores `disk.img` three times and `other.img` once through `s3`: v1 (24 MiB), v2 (the middle
 * 3.5 MiB of every 8 MiB of v1 kept, the rest new), v3 (v2 with a new last MiB), `other.img` =
 * v2. Retention (one past version) drops v1 at v3's commit: each of v1's packs keeps under half
 * live (3.5 MiB less the chunks cut differently at the edges; 6-20% in the first runs).
 */
export async function storeLayout(s3: TestS3): Promise<Layout> {
  // Seeded, so that where the chunks fall, and so which packs go under half live, is the same in
  // every run (the reader test needs runs in such packs past its read-ahead).
  let seed = 1;
  const v1 = noise(seed++, 24 * MiB);
  const v2 = v1.slice();
  for (let at = 0; at < v2.length; at += 8 * MiB) {
    v2.set(noise(seed++, 2304 * KiB), at);
    v2.set(noise(seed++, 2304 * KiB), at + 5888 * KiB);
  }
  const v3 = v2.slice();
  v3.set(noise(seed++, MiB), v3.length - MiB);
  await store(s3.storage, USER, "disk.img", v1);
  const { versionId: v2Id } = await store(s3.storage, USER, "disk.img", v2);
  await store(s3.storage, USER, "disk.img", v3);
  await store(s3.storage, USER, "other.img", v2);
  await s3.storage.settled(); // the prune after v3's commit dropped v1
  const shares = await liveShares(s3.client, s3.prefix, USER);
  const pick = (test: (share: number) => boolean) =>
    [...shares].filter(([, { size, live }]) => test(live / size)).map(([pack]) => pack);
  const layout = {
    v2,
    v2Id,
    v3,
    low: pick((share) => share > 0 && share < 0.5),
    empty: pick((share) => share === 0),
    full: pick((share) => share >= 0.5),
    shares,
  };
  assert.ok(layout.low.length >= 2, `packs mostly garbage: ${JSON.stringify([...shares])}`);
  return layout;
}

/** Each pack of the user (`p/USER/NAME`): its size and the bytes the `c` records name in it. */
export async function liveShares(client: S3Client, prefix: string, userId: number) {
  const shares = new Map<string, { size: number; live: number }>();
  for (const { key, size } of await keysUnder(client, `${prefix}p/${userId}/`)) {
    shares.set(key.slice(prefix.length), { size, live: 0 });
  }
  const places = new Set<string>();
  for (const { key } of await keysUnder(client, `${prefix}u/${userId}/`)) {
    if (key.split(" ")[2] !== "c") continue;
    const list = decodeChunkTable(
      "list",
      new Uint8Array(await (await client.get(key)).arrayBuffer()),
    );
    for (let i = 0; i < list.count; i++) {
      const chunk = chunkAt(list, i);
      const pack = `p/${userId}/${chunk.pack}`;
      if (places.has(`${pack}@${chunk.offset}`)) continue;
      places.add(`${pack}@${chunk.offset}`);
      const share = shares.get(pack);
      assert.ok(share, `${key} names ${pack}, which exists`);
      share.live += chunk.storedLength;
    }
  }
  return shares;
}

/**
 * Prunes through `storage` until none of `packs` is in the bucket, or `limitMs` passed; returns
 * those left, and every pack there right after a run that repacked (they are doomed, not deleted).
 */
export async function pruneUntilGone(
  s3: TestS3,
  reports: ChunkGcReport[],
  packs: readonly string[],
  limitMs = 60_000,
): Promise<{ left: string[]; afterRepack?: Set<string> }> {
  const deadline = Date.now() + limitMs;
  let afterRepack: Set<string> | undefined;
  let left = [...packs];
  while (Date.now() < deadline) {
    const runs = reports.length;
    await s3.storage.prune();
    const now = await packsOf(s3.client, s3.prefix, USER);
    const report = reports.at(-1);
    if (reports.length > runs && (report?.repackedPacks ?? 0) > 0) {
      afterRepack = new Set([...afterRepack ?? [], ...now]);
    }
    left = packs.filter((pack) => now.has(pack));
    if (left.length === 0) break;
  }
  return { left, afterRepack };
}

/** Reads every version `storeLayout` left through `storage`, byte for byte. */
export async function assertLayoutWhole(storage: S3Storage, layout: Layout) {
  const same = async (name: string, want: Uint8Array, versionId?: number) => {
    const read = await readWhole(storage, USER, name, versionId);
    assert.ok(Buffer.from(read).equals(want), `${name} ${versionId ?? "current"} byte for byte`);
  };
  await same("disk.img", layout.v3);
  await same("disk.img", layout.v2, layout.v2Id);
  await same("other.img", layout.v2);
}

/**
 * Runs `_repack_pruner.ts` on `prefix` (the records' engine or the snapshots') until its GC run
 * pauses at `step` with chunks copied, SIGKILLs it there, and resolves the report it printed.
 */
export async function pausedPruner(
  prefix: string,
  step: ChunkGcStep,
  engine: "records" | "snapshots",
): Promise<ChunkGcReport> {
  const { value: paused, printed } = await killedWhenPrinted<ChunkGcReport>(
    new URL("./_repack_pruner.ts", import.meta.url),
    ["--allow-net", "--allow-env", "--allow-read"],
    [prefix, step, engine],
    "PAUSED",
  );
  assert.ok(paused && paused.copiedChunks > 0, `the child paused at ${step}: ${printed}`);
  return paused;
}
