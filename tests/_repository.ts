/**
 * Shared pieces of the repository tests (chunks, packs, garbage collection): an embedded engine on a
 * temp root, uploads and reads through the `Storage` contract, a root's size on disk, and bytes that
 * are random (incompressible) or text-like (compressible), from a seed.
 *
 * @module
 */
import type { ObjectStore } from "../objects/object_store.ts";
import type { BackupClient } from "../client/backup_client.ts";
import { DatabaseSync } from "node:sqlite";
import { EmbeddedStorage, type EmbeddedStorageOptions } from "../storage/embedded/engine.ts";
import { INDEX_FILE_NAME, REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import type { Storage, StoredFile } from "../storage/storage.ts";

/** Bytes written per `Upload.write`, as the server's connection loop hands them on. */
export { PUT_WRITE_BYTES as WRITE_BYTES } from "../harness/put_bytes.ts";
export const KiB = 1024;
export const MiB = 1024 * 1024;

/** An engine on a fresh temp root; `await using` closes it and removes the root. */
export async function openTempStorage(
  options: Partial<EmbeddedStorageOptions> = {},
): Promise<{ storage: EmbeddedStorage; root: string } & AsyncDisposable> {
  const root = options.root ?? await Deno.makeTempDir({ prefix: "backup-repo-test-" });
  const { storage } = await EmbeddedStorage.open({ pruneIntervalMs: 0, ...options, root });
  return {
    storage,
    root,
    async [Symbol.asyncDispose]() {
      await storage.close();
      if (!options.root) await Deno.remove(root, { recursive: true });
    },
  };
}

/** Uploads `bytes` as `name`, in writes of `WRITE_BYTES`, and commits. */
export { putBytes as put } from "../harness/put_bytes.ts";

/** Reads up to `count` bytes (fewer only at the end) of an opened file. */
export async function readSome(file: StoredFile, count: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let filled = 0;
  while (filled < count) {
    const read = await file.source.read(out.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return out.subarray(0, filled);
}

/** The whole current (or given) version of a file, read through `Storage.open`. */
export async function getBytes(
  storage: Storage,
  userId: number,
  name: string,
  versionId?: number,
): Promise<Uint8Array> {
  using file = await storage.open(userId, name, versionId);
  const bytes = await readSome(file, file.metadata.size + 1);
  if (bytes.length !== file.metadata.size) {
    throw new Error(`read ${bytes.length} bytes of ${file.metadata.size}`);
  }
  return bytes;
}

/** Bytes of every file under a folder (the root's index, its log, its packs, temp files). */
export async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await bytesUnder(path);
    else if (entry.isFile) total += (await Deno.lstat(path)).size;
  }
  return total;
}

/** The pack files under a root, as object names (`packs/ab/ab…`), sorted. */
export async function packNames(root: string): Promise<string[]> {
  const names: string[] = [];
  const packs = `${root}/${REPOSITORY_DIR_NAME}/packs`;
  try {
    for await (const shard of Deno.readDir(packs)) {
      for await (const file of Deno.readDir(`${packs}/${shard.name}`)) {
        if (!file.name.startsWith(".")) names.push(`packs/${shard.name}/${file.name}`);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Runs `work` on a read-write connection to a root's index (to look, or to damage on purpose). */
export function withIndex<T>(root: string, work: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** Counts rows of a table of a root's index. */
export function rowCount(root: string, table: "blobs" | "packs" | "released_chunks"): number {
  return withIndex(
    root,
    (db) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
  );
}

/** A seeded PRNG (mulberry32): the same seed gives the same bytes on every run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes from a seed (incompressible), any size. */
export function seededBytes(seed: number, size: number): Uint8Array {
  const next = seeded(seed);
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next() * 4294967296;
  for (let i = words.length * 4; i < size; i++) bytes[i] = next() * 256;
  return bytes;
}

const WORDS = (
  "backup server chunk pack index version retention quota user name file folder stream byte " +
  "restore prune verify commit upload durable compress garbage repack status error token " +
  "time size mode hash sha256 zstd fastcdc gear sqlite journal root store object bucket"
).split(" ");

/**
 * Text and JSON lines from a seed, about `size` bytes (exactly `size`): log lines and records with
 * ids, numbers and words, compressible as real logs and dumps are.
 */
export function generatedText(seed: number, size: number): Uint8Array {
  const next = seeded(seed);
  const word = () => WORDS[Math.floor(next() * WORDS.length)];
  const encoder = new TextEncoder();
  const out = new Uint8Array(size);
  let at = 0;
  let line = 0;
  while (at < size) {
    const text = line % 3 === 0
      ? JSON.stringify({
        id: line,
        user: Math.floor(next() * 5000),
        name: `${word()}/${word()}-${Math.floor(next() * 1e6)}.dat`,
        size: Math.floor(next() * 1e9),
        tags: [word(), word()],
        ok: next() < 0.9,
      }) + "\n"
      : `2025-01-${String(1 + (line % 28)).padStart(2, "0")}T${
        String(line % 24).padStart(2, "0")
      }:00:00Z ${word()} ${word()} ${word()} took ${Math.floor(next() * 1000)} ms for ${word()} #${
        Math.floor(next() * 1e5)
      }\n`;
    const { written } = encoder.encodeInto(text, out.subarray(at));
    at += written;
    line++;
  }
  return out;
}

/**
 * A file as long as `base` that shares only `length` bytes from `from` with it (in the same place),
 * fresh random bytes elsewhere: with packs of several chunks, the pack of `base` around `from`
 * keeps a few live chunks once `base` goes (a repack's case), its other packs none (an empty
 * pack's case). Shared in the middle, those chunks are far from where a reader starts. With a
 * `seed` (and a seeded `base`) the same on every run: which packs are mostly garbage is then fixed.
 */
export function sharingPart(
  base: Uint8Array,
  from: number,
  length: number,
  seed?: number,
): Uint8Array {
  const out = seed === undefined ? new Uint8Array(base.length) : seededBytes(seed, base.length);
  const MAX_RANDOM = 65536; // what getRandomValues fills at once
  for (let at = 0; seed === undefined && at < out.length; at += MAX_RANDOM) {
    crypto.getRandomValues(out.subarray(at, Math.min(out.length, at + MAX_RANDOM)));
  }
  out.set(base.subarray(from, from + length), from);
  return out;
}

/** Retrieves a file into memory through the client. */
export async function retrieveBytes(client: BackupClient, name: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await client.retrieve(name, {
    write: (bytes) => {
      parts.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
  });
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
}

/** `inner`, but for `create`, which the test changes (writes slowed, commits failing). */
export function withCreate(inner: ObjectStore, create: ObjectStore["create"]): ObjectStore {
  return {
    put: (name, body) => inner.put(name, body),
    get: (name, range) => inner.get(name, range),
    stat: (name) => inner.stat(name),
    list: (prefix) => inner.list(prefix),
    delete: (name) => inner.delete(name),
    create,
  };
}
