/**
 * Helpers of the snapshot repack tests on Swift (tests/s3/snapshot_repack_test.ts): the engine's
 * options (32 KiB packs, G = 5 s, a blob grace of 1 s), a layout whose packs end up mostly garbage
 * once a snapshot is forgotten, a backup through a session, and a whole read of a snapshot.
 *
 * @module
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import { decodeBlob } from "../../repository/blob_codec.ts";
import { chunkAt, decodeChunkTable } from "../../storage/s3/chunk_list.ts";
import type { S3StorageOptions } from "../../storage/s3/engine.ts";
import { decodeTombstone } from "../../storage/s3/gc_objects.ts";
import type {
  IncomingBlob,
  SnapshotRepository,
  SnapshotSession,
  StoredSnapshot,
} from "../../storage/snapshots.ts";
import { dataBlob, noise, sha256, snapshotOf, treeBlob } from "../_snapshots.ts";
import { keysUnder, type TestS3 } from "./_s3_storage.ts";

const KiB = 1024;
/** The user of these tests. */
export const USER = 5;
/** Snapshots on, packs of 32 KiB, a blob grace of 1 s. */
export const SNAPSHOT_ENGINE: Partial<S3StorageOptions> = {
  chunkFiles: true,
  packTargetBytes: 32 * KiB,
  blobGraceMs: 1000,
};
/** Packs of the layout: each holds one live blob of 4 KiB and one dead of 29 KiB. */
export const LAYOUT_PACKS = 8;

/** Every blob by hex id. */
export type Blobs = Map<string, IncomingBlob>;

/**
 * Puts what the store lacks of `blobs`, then (after `pause`, if given) commits on `root`, sending
 * what it still lacks.
 */
export async function backup(
  session: SnapshotSession,
  blobs: IncomingBlob[],
  root: IncomingBlob,
  all: Blobs,
  pause?: () => Promise<void>,
): Promise<StoredSnapshot["id"]> {
  const lacking = await session.missing(blobs.map((blob) => blob.id));
  for (const [i, blob] of blobs.entries()) if (lacking[i]) await session.put(blob);
  await pause?.();
  const snapshot = snapshotOf(root, toHex(root.id));
  for (let tries = 0; tries < 5; tries++) {
    const { missing } = await session.commit(snapshot);
    if (missing.length === 0) return snapshot.id;
    for (const id of missing) await session.put(all.get(toHex(id))!);
  }
  throw new Error("the commit kept answering missing blobs");
}

/** Reads every blob under `tree` through `snapshots`, each checked against its id. */
export async function readWhole(
  snapshots: SnapshotRepository,
  tree: Uint8Array,
  all: Blobs,
): Promise<number> {
  let count = 0;
  const stack = [tree];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(toHex(id))) continue;
    seen.add(toHex(id));
    const blob = await snapshots.readBlob(USER, id);
    const raw = decodeBlob(blob.bytes, blob.encoding === "zstd" ? "zstd" : "none", blob.rawLength);
    assert.equal(toHex(sha256(raw)), toHex(id), "a blob read back hashes to its id");
    count++;
    stack.push(...(all.get(toHex(id))!.refs ?? []));
  }
  return count;
}

/** What `storeLayout` stored. */
export interface SnapshotLayout {
  all: Blobs;
  /** The snapshot kept: its root names `kept` only. */
  keptRoot: IncomingBlob;
  /** The tree naming every live blob. */
  kept: IncomingBlob;
  /** Live blobs (4 KiB each), one per pack. */
  keeps: IncomingBlob[];
  /** Dead blobs once the first snapshot is forgotten (29 KiB each), one per pack. */
  junks: IncomingBlob[];
  /** The dead tree naming `junks`, in a pack with `kept`. */
  junk: IncomingBlob;
  /** The packs of the first session (all mostly garbage then). */
  packs: string[];
}

/**
 * Two snapshots: the first names a tree of the live blobs and a tree of the dead ones (each pack
 * of its session one live and one dead blob, the trees with a dead filler), the second the live
 * tree only; the first is forgotten.
 */
export async function storeLayout(s3: TestS3): Promise<SnapshotLayout> {
  const snapshots = s3.storage.snapshots!;
  const all: Blobs = new Map();
  const keep = (...blobs: IncomingBlob[]) => blobs.forEach((b) => all.set(toHex(b.id), b));
  const keeps = Array.from({ length: LAYOUT_PACKS }, (_, i) => dataBlob(noise(100 + i, 4 * KiB)));
  const junks = Array.from({ length: LAYOUT_PACKS }, (_, i) => dataBlob(noise(200 + i, 29 * KiB)));
  const kept = treeBlob(keeps.map((blob) => blob.id), "kept");
  const junk = treeBlob(junks.map((blob) => blob.id), "junk");
  const filler = dataBlob(noise(300, 8 * KiB));
  const first = treeBlob([kept.id, junk.id, filler.id], "first");
  const keptRoot = treeBlob([kept.id], "second");
  keep(...keeps, ...junks, kept, junk, filler, first, keptRoot);
  const one = snapshots.openSession(USER);
  const blobs = keeps.flatMap((blob, i) => [blob, junks[i]]);
  const firstId = await backup(one, [...blobs, kept, junk, filler], first, all);
  await one.close();
  const packs = (await keysUnder(s3.client, `${s3.prefix}p/${USER}/`)).map(({ key }) =>
    key.slice(s3.prefix.length)
  );
  assert.ok(packs.length >= LAYOUT_PACKS, `${packs.length} packs`);
  const two = snapshots.openSession(USER);
  await backup(two, [kept], keptRoot, all);
  await two.close();
  await snapshots.forgetSnapshot(USER, firstId);
  return { all, keptRoot, kept, keeps, junks, junk, packs };
}

/** The packs (`p/USER/NAME`) the snapshot index objects place any of `ids` in. */
export async function packsHolding(s3: TestS3, ids: readonly Uint8Array[]): Promise<Set<string>> {
  const wanted = new Set(ids.map(toHex));
  const packs = new Set<string>();
  for (const { key } of await keysUnder(s3.client, `${s3.prefix}x/${USER}/snap.`)) {
    const body = new Uint8Array(await (await s3.client.get(key)).arrayBuffer());
    const table = decodeChunkTable("blobs", body);
    for (let i = 0; i < table.count; i++) {
      const blob = chunkAt(table, i);
      if (wanted.has(toHex(blob.id))) packs.add(`p/${USER}/${blob.pack}`);
    }
  }
  return packs;
}

/** The packs every tombstone (`g/doomed/`) names. */
export async function doomedPacks(s3: TestS3): Promise<Set<string>> {
  const packs = new Set<string>();
  for (const { key } of await keysUnder(s3.client, `${s3.prefix}g/doomed/`)) {
    const body = new Uint8Array(await (await s3.client.get(key)).arrayBuffer());
    for (const pack of decodeTombstone(body)) packs.add(pack);
  }
  return packs;
}

/** Bytes under `p/USER/` now. */
export async function packBytes(s3: TestS3): Promise<number> {
  return (await keysUnder(s3.client, `${s3.prefix}p/${USER}/`)).reduce((sum, k) => sum + k.size, 0);
}
