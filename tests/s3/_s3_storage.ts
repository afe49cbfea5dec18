/**
 * An `S3Storage` under a fresh prefix of the test bucket for the tests of this folder, with the
 * raw client beside it (to read and plant keys), a count of its requests by call, and helpers to
 * store and read whole files. Disposing closes it and empties the prefix.
 *
 * @module
 */
import { S3Storage, type S3StorageOptions } from "../../storage/s3/engine.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import type { VersionListing, VersionRecord } from "../../storage/storage.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";

/** An opened backend and what a test needs around it. */
export interface TestS3 extends AsyncDisposable {
  storage: S3Storage;
  /** The raw client, on the same bucket. */
  client: S3Client;
  prefix: string;
  /** Requests to the store by call (`PutObject`, `ListObjectsV2`, …) since the last `resetCounts`. */
  counts: Map<string, number>;
  resetCounts(): void;
}

/** Opens a backend under `prefix` (a fresh one by default); pruning only when asked. */
export async function openS3(
  options: Partial<S3StorageOptions> = {},
  prefix = freshPrefix(),
): Promise<TestS3> {
  const counts = new Map<string, number>();
  const { storage } = await S3Storage.open({
    location: testLocation(),
    prefix,
    serverTag: `test-${crypto.randomUUID().slice(0, 8)}`,
    pruneIntervalMs: 0,
    ...options,
    // The prune lock's settle time (1 s) would only slow every prune of these tests down.
    gc: { lockSettleMs: 100, ...options.gc },
    onRequest: (call) => void counts.set(call, (counts.get(call) ?? 0) + 1),
  });
  const client = new S3Client(testLocation());
  return {
    storage,
    client,
    prefix,
    counts,
    resetCounts: () => counts.clear(),
    async [Symbol.asyncDispose]() {
      await storage.close();
      for await (const page of client.list(prefix)) {
        await Promise.all(page.map(({ key }) => client.delete(key)));
      }
    },
  };
}

/** Stores `bytes` as `name` through the backend's upload path. */
export async function store(
  storage: S3Storage,
  userId: number,
  name: string,
  bytes: Uint8Array,
) {
  const upload = await storage.beginUpload(userId, name, { size: bytes.length, mtimeMs: 1000 });
  try {
    await upload.write(bytes);
    return await upload.commit();
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

/** The whole current (or given) version of `name`, read through the backend. */
export async function readWhole(
  storage: S3Storage,
  userId: number,
  name: string,
  versionId?: number,
): Promise<Uint8Array> {
  using file = await storage.open(userId, name, versionId);
  const bytes = new Uint8Array(file.metadata.size);
  let at = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (let count; (count = await file.source.read(buffer)) !== null;) {
    if (at + count > bytes.length) throw new Error(`more than the ${bytes.length} bytes promised`);
    bytes.set(buffer.subarray(0, count), at);
    at += count;
  }
  if (at !== bytes.length) throw new Error(`${at} bytes of the ${bytes.length} promised`);
  return bytes;
}

/** The keys under `prefix` (the whole of each) with their sizes. */
export async function keysUnder(client: S3Client, prefix: string) {
  const keys: { key: string; size: number }[] = [];
  for await (const page of client.list(prefix)) {
    for (const { key, size } of page) keys.push({ key, size });
  }
  return keys;
}

/** Every version a listing yields. */
export async function allOf(listing: Promise<VersionListing>): Promise<VersionRecord[]> {
  using opened = await listing;
  const versions: VersionRecord[] = [];
  for await (const page of opened.pages) versions.push(...page);
  return versions;
}
