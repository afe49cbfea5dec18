/**
 * The requests of a GC run on the bucket, bounded in flight (`chunk_gc.ts`, `gc_mark.ts`,
 * `repack.ts`): listings with the store's clock, GETs that pass over what was deleted since the
 * LIST, work on many keys a few at a time, destructive batches checked against the prune lock.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import type { GcLock } from "./gc_lock.ts";
import type { Listed } from "./gc_plan.ts";

/** GETs, PUTs and DELETEs of one GC step at once. */
export const IN_FLIGHT = 8;

/** The objects under `listPrefix`, their keys made relative to `prefix`. */
export async function listed(
  client: S3Client,
  prefix: string,
  listPrefix: string,
): Promise<Listed[]> {
  const objects: Listed[] = [];
  for await (const page of client.list(listPrefix)) {
    for (const { key, lastModifiedMs, size } of page) {
      objects.push({ key: key.slice(prefix.length), lastModifiedMs, size });
    }
  }
  return objects;
}

/** Each object under `listPrefix`, decoded (those deleted since the LIST are passed over). */
export async function readAll<T>(
  client: S3Client,
  prefix: string,
  listPrefix: string,
  decode: (bytes: Uint8Array) => T,
): Promise<(Listed & { value: T })[]> {
  const read: (Listed & { value: T })[] = [];
  await inParallel(await listed(client, prefix, listPrefix), async (object) => {
    const bytes = await getOrGone(client, prefix + object.key);
    if (bytes) read.push({ ...object, value: decode(bytes) });
  });
  return read;
}

/**
 * The whole object `key`, or `undefined` if it is gone (deleted since it was listed).
 *
 * @throws {S3Error} if the store failed the GET otherwise.
 */
export async function getOrGone(client: S3Client, key: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await (await client.get(key)).arrayBuffer());
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** Runs `work` on every item, `IN_FLIGHT` at once; the first failure stops the rest. */
export async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, worker));
}

/** A destructive step, `IN_FLIGHT` requests at a time, the lock checked before each batch. */
export async function inBatches(
  keys: readonly string[],
  lock: GcLock,
  remove: (key: string) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < keys.length; i += IN_FLIGHT) {
    lock.ensureHeld();
    await Promise.all(keys.slice(i, i + IN_FLIGHT).map(remove));
  }
}
