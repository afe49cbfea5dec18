/**
 * The storage interface's own test suite: what every backend promises, through `Storage` alone.
 * `tests/storage_contract_test.ts` runs it against the embedded engine, `tests/s3/contract_s3.ts`
 * against the S3 backend on a real object store.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  DeleteRefusedError,
  DigestMismatchError,
  type FileMetadata,
  NameConflictError,
  NameRefusedError,
  NoSuchFileError,
  QuotaExceededError,
  ReplaceRefusedError,
  type Storage,
  type VersionListing,
  type VersionRecord,
} from "../storage/storage.ts";
import type { Retention } from "../storage/retention.ts";

/** What a test asks of the backend it opens. */
export interface ContractOptions {
  retention?: Partial<Retention>;
  quotaBytes?: number;
  now?: () => number;
  /** Which users are append-only, asked each time (a test may change its answer). */
  appendOnlyOf?: (userId: number) => boolean;
}

/** Opens a fresh, empty store of the backend under test. */
export type OpenStore = (options: ContractOptions) => Promise<Storage & AsyncDisposable>;

const DAY = 86_400_000;
const decoder = new TextDecoder();
const sha = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());
const fill = (size: number, seed: number) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
};

/** Metadata with its digest as a plain `Uint8Array` (a backend may hand a `Buffer`). */
const plain = (metadata: FileMetadata) => ({
  ...metadata,
  sha256: Uint8Array.from(metadata.sha256),
});

async function put(
  storage: Storage,
  userId: number,
  name: string,
  bytes: Uint8Array,
  extra: { mtimeMs?: number; mode?: number } = {},
) {
  const upload = await storage.beginUpload(userId, name, { size: bytes.length, ...extra });
  try {
    // Chunks that do not line up with any backend's buffers or parts.
    for (let at = 0; at < bytes.length; at += 1_000_003) {
      await upload.write(bytes.subarray(at, at + 1_000_003));
    }
    return await upload.commit({ sha256: sha(bytes) });
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

async function read(storage: Storage, userId: number, name: string, versionId?: number) {
  using file = await storage.open(userId, name, versionId);
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(256 * 1024);
  for (let n; (n = await file.source.read(buffer)) !== null;) chunks.push(buffer.slice(0, n));
  const bytes = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const chunk of chunks) bytes.set(chunk, (at += chunk.length) - chunk.length);
  assert.equal(bytes.length, file.metadata.size);
  return { bytes, metadata: file.metadata };
}

async function names(storage: Storage, userId: number, prefix = "") {
  using listing = await storage.list(userId, prefix);
  let text = "";
  for await (const page of listing.pages) text += decoder.decode(page);
  const listed = text === "" ? [] : text.slice(0, -1).split("\n");
  assert.equal(listing.files, listed.length, "the count announced is the count listed");
  assert.equal(listing.nameBytes, new TextEncoder().encode(listed.join("")).length);
  return listed;
}

async function all(listing: VersionListing): Promise<VersionRecord[]> {
  using owned = listing;
  const out: VersionRecord[] = [];
  for await (const page of owned.pages) out.push(...page);
  return out;
}

/** Registers the suite under `label`. */
/**
 * Runs the contract against a backend.
 *
 * @param charge what a version of a name costs against the quota besides its bytes (the backend's
 *   own measure: see `storage/quota_charge.ts`)
 */
export function storageContract(
  label: string,
  open: OpenStore,
  charge: (name: string) => number,
): void {
  const test = (name: string, fn: () => Promise<void>) => Deno.test(`${label}: ${name}`, fn);

  test("a stored file reads back whole, with its metadata", async () => {
    await using storage = await open({});
    const bytes = fill(100_000, 1);
    const stored = await put(storage, 1, "docs/a.txt", bytes, { mtimeMs: 1234, mode: 0o640 });
    assert.ok(stored.versionId > 0);
    const { bytes: back, metadata } = await read(storage, 1, "docs/a.txt");
    assert.deepEqual(back, bytes);
    assert.deepEqual(plain(metadata), plain(stored));
    assert.equal(metadata.mtimeMs, 1234);
    assert.equal(metadata.mode, 0o640);
    assert.deepEqual(metadata.sha256, sha(bytes));
    assert.deepEqual(plain((await storage.stat(1, "docs/a.txt"))!), plain(stored));
    await assert.rejects(storage.open(2, "docs/a.txt"), NoSuchFileError, "users are apart");
    await assert.rejects(storage.open(1, "docs"), NoSuchFileError);
  });

  test("empty, one-byte and multi-part files, each whole", async () => {
    await using storage = await open({});
    for (const [name, size] of [["empty", 0], ["one", 1], ["large", 12 * 1024 * 1024 + 5]]) {
      const bytes = fill(size as number, 7);
      await put(storage, 1, name as string, bytes);
      assert.deepEqual((await read(storage, 1, name as string)).bytes, bytes, `${name}`);
    }
  });

  test("a replaced file is a past version, readable by its id; versions oldest first", async () => {
    await using storage = await open({});
    const first = await put(storage, 1, "f", fill(10, 1));
    const second = await put(storage, 1, "f", fill(20, 2));
    assert.notEqual(first.versionId, second.versionId);
    assert.deepEqual((await read(storage, 1, "f", first.versionId)).bytes, fill(10, 1));
    assert.deepEqual((await read(storage, 1, "f")).bytes, fill(20, 2));
    const versions = await all(await storage.versions(1, "f"));
    assert.deepEqual(versions.map((v) => v.versionId), [first.versionId, second.versionId]);
    assert.equal(versions[0].endedMs, second.storedMs);
    assert.equal(versions[1].endedMs, null);
    assert.equal(await storage.usage(1), 30 + 2 * charge("f"), "past versions count");
  });

  test("an aborted or refused upload leaves the previous version whole and nothing else", async () => {
    await using storage = await open({});
    const kept = await put(storage, 1, "f", fill(9_000_000, 1));
    const upload = await storage.beginUpload(1, "f", { size: 9_000_000 });
    await upload.write(fill(8_500_000, 2));
    await upload.abort();
    await assert.rejects(
      (async () => {
        const wrong = await storage.beginUpload(1, "f", { size: 5 });
        await wrong.write(fill(5, 3));
        await wrong.commit({ sha256: new Uint8Array(32) }).finally(() => wrong.abort());
      })(),
      DigestMismatchError,
    );
    const short = await storage.beginUpload(1, "f", { size: 10 });
    await short.write(fill(5, 4));
    await assert.rejects(short.commit(), RangeError);
    await short.abort();
    const after = await read(storage, 1, "f");
    assert.deepEqual(after.bytes, fill(9_000_000, 1));
    assert.deepEqual(plain(after.metadata), plain(kept));
    assert.equal((await all(await storage.versions(1, "f"))).length, 1);
    assert.deepEqual(await names(storage, 1), ["f"]);
  });

  test("append-only: a replace adds a version and keeps the old one; a delete is refused", async () => {
    await using storage = await open({ appendOnlyOf: (userId) => userId === 1 });
    const first = await put(storage, 1, "log", fill(3, 1));
    const second = await put(storage, 1, "log", fill(4, 2));
    assert.deepEqual((await read(storage, 1, "log")).bytes, fill(4, 2));
    assert.deepEqual((await read(storage, 1, "log", first.versionId)).bytes, fill(3, 1));
    const versions = await all(await storage.versions(1, "log"));
    assert.deepEqual(versions.map((v) => v.versionId), [first.versionId, second.versionId]);
    await assert.rejects(storage.delete(1, "log"), DeleteRefusedError);
    assert.deepEqual(await names(storage, 1), ["log"]);
    await put(storage, 2, "log", fill(3, 1));
    await storage.delete(2, "log");
    assert.deepEqual(await names(storage, 2), [], "other users delete as before");
  });

  test("append-only: keep-versions never prunes the user's versions, keep-days does", async () => {
    let now = Date.UTC(2026, 5, 1);
    let appendOnly = true;
    await using storage = await open({
      retention: { keepDays: 2, keepVersions: 1 },
      now: () => now,
      appendOnlyOf: (userId) => userId === 1 && appendOnly,
    });
    for (let round = 1; round <= 5; round++) {
      now += 1000;
      await put(storage, 1, "doc", fill(round, round));
      await put(storage, 2, "doc", fill(round, round));
    }
    await storage.settled();
    const sizes = async (userId: number) =>
      (await all(await storage.versions(userId, "doc"))).map((v) => v.size);
    assert.deepEqual(await sizes(1), [1, 2, 3, 4, 5], "the append-only user keeps every version");
    assert.deepEqual(await sizes(2), [4, 5], "the others keep one past version");
    assert.equal(await storage.prune(), 0);
    assert.deepEqual(await sizes(1), [1, 2, 3, 4, 5], "a prune by count passes them over");
    appendOnly = false; // the operator lifts append-only (a reload): counts apply again
    assert.equal(await storage.prune(), 3);
    assert.deepEqual(await sizes(1), [4, 5]);
    appendOnly = true;
    await put(storage, 1, "doc", fill(6, 6));
    await storage.settled();
    now += 3 * DAY;
    assert.equal(await storage.prune(), 3, "the days apply to everyone");
    assert.deepEqual(await sizes(1), [6]);
    assert.deepEqual(await sizes(2), [5]);
  });

  test("append-only with keep-versions 0 still keeps the versions it replaces", async () => {
    await using storage = await open({
      retention: { keepDays: 30, keepVersions: 0 },
      appendOnlyOf: (userId) => userId === 1,
    });
    await put(storage, 1, "doc", fill(10, 1));
    await put(storage, 1, "doc", fill(20, 2));
    await put(storage, 2, "doc", fill(10, 1));
    await put(storage, 2, "doc", fill(20, 2));
    await storage.settled();
    assert.equal((await all(await storage.versions(1, "doc"))).length, 2);
    assert.equal((await all(await storage.versions(2, "doc"))).length, 1);
  });

  test("append-only with keep-days 0 refuses a replace (it would destroy the version)", async () => {
    await using storage = await open({
      retention: { keepDays: 0 },
      appendOnlyOf: (userId) => userId === 1,
    });
    await put(storage, 1, "log", fill(3, 1));
    await assert.rejects(put(storage, 1, "log", fill(4, 2)), ReplaceRefusedError);
    await put(storage, 1, "other", fill(4, 2));
    assert.deepEqual((await read(storage, 1, "log")).bytes, fill(3, 1));
    await put(storage, 2, "log", fill(3, 1));
    await put(storage, 2, "log", fill(4, 2));
    assert.deepEqual((await read(storage, 2, "log")).bytes, fill(4, 2));
  });

  test("a deleted file is gone now, and listed as it was before", async () => {
    let now = Date.UTC(2026, 0, 1);
    await using storage = await open({ now: () => now });
    const stored = await put(storage, 1, "gone", fill(5, 1));
    now += 1000;
    await storage.delete(1, "gone");
    now += 1000;
    await assert.rejects(storage.open(1, "gone"), NoSuchFileError);
    await assert.rejects(storage.delete(1, "gone"), NoSuchFileError);
    await assert.rejects(storage.delete(1, "never"), NoSuchFileError);
    assert.deepEqual(await names(storage, 1), []);
    assert.deepEqual(await all(await storage.entries(1)), []);
    const before = await all(await storage.entries(1, { atMs: stored.storedMs }));
    const seen = before.map((v) => [decoder.decode(v.name), v.endedMs, v.deleted]);
    assert.deepEqual(seen, [["gone", null, false]], "as it was then: current");
    const [version] = await all(await storage.versions(1, "gone"));
    assert.equal(version.deleted, true);
    assert.deepEqual((await read(storage, 1, "gone", stored.versionId)).bytes, fill(5, 1));
  });

  test("lists are in bytewise order, under a prefix, with counts that match", async () => {
    await using storage = await open({});
    const stored = ["b", "a b", "a!b", "a", "a/x", "ab", "Z", "é", "😀", "a-b", "a c/d e"];
    for (const name of stored) {
      if (name !== "a") await put(storage, 1, name, fill(1, 1));
    }
    const sorted = stored.filter((n) => n !== "a").sort((x, y) =>
      Buffer.compare(new TextEncoder().encode(x), new TextEncoder().encode(y))
    );
    assert.deepEqual(await names(storage, 1), sorted);
    assert.deepEqual(await names(storage, 1, "a "), ["a b", "a c/d e"]);
    assert.deepEqual(await names(storage, 1, "a/"), ["a/x"]);
    const entries = await all(await storage.entries(1, { prefix: "a!" }));
    assert.deepEqual(entries.map((e) => decoder.decode(e.name)), ["a!b"]);
    assert.deepEqual(await names(storage, 2), []);
  });

  test("a name cannot be both a file and a folder", async () => {
    await using storage = await open({});
    await put(storage, 1, "dir/file", fill(1, 1));
    await assert.rejects(put(storage, 1, "dir", fill(1, 2)), NameConflictError);
    await assert.rejects(put(storage, 1, "dir/file/x", fill(1, 2)), NameConflictError);
    await storage.delete(1, "dir/file");
    await put(storage, 1, "dir", fill(1, 3));
    assert.deepEqual(await names(storage, 1), ["dir"]);
  });

  test("quota: a declared size that cannot fit is refused before any byte", async () => {
    await using storage = await open({ quotaBytes: 1000 });
    // Bytes that do not compress: a backend that compresses charges what it stores.
    await put(storage, 1, "a", crypto.getRandomValues(new Uint8Array(600)));
    await assert.rejects(storage.beginUpload(1, "b", { size: 500 }), QuotaExceededError);
    await put(storage, 2, "b", fill(500, 1));
    assert.equal(await storage.usage(1), 600 + charge("a"));
  });

  test("retention: the newest N past versions, and none older than the days kept", async () => {
    let now = Date.UTC(2026, 5, 1);
    await using storage = await open({
      retention: { keepDays: 2, keepVersions: 2 },
      now: () => now,
    });
    for (let round = 1; round <= 5; round++) await put(storage, 1, "doc", fill(round * 10, round));
    await storage.settled();
    assert.equal((await all(await storage.versions(1, "doc"))).length, 3);
    assert.equal(await storage.usage(1), (5 + 4 + 3) * 10 + 3 * charge("doc"));
    now += 3 * DAY;
    assert.equal(await storage.prune(), 2);
    assert.deepEqual((await all(await storage.versions(1, "doc"))).map((v) => v.size), [50]);
  });

  test("keep-days 0 keeps no past version: a replace or a delete frees the old bytes", async () => {
    await using storage = await open({ retention: { keepDays: 0 } });
    await put(storage, 1, "doc", fill(100, 1));
    const current = await put(storage, 1, "doc", fill(200, 2));
    await put(storage, 1, "gone", fill(300, 3));
    await storage.delete(1, "gone");
    await storage.settled();
    assert.deepEqual((await all(await storage.versions(1, "doc"))).map((v) => v.versionId), [
      current.versionId,
    ]);
    assert.deepEqual(await all(await storage.versions(1, "gone")), []);
    assert.equal(await storage.usage(1), 200 + charge("doc"));
  });

  test("names too long for the store are refused, never cut", async () => {
    await using storage = await open({});
    const long = Array.from({ length: 8 }, () => "x".repeat(127)).join("/");
    try {
      await put(storage, 1, long, fill(1, 1));
      assert.deepEqual(await names(storage, 1), [long], "stored whole");
    } catch (error) {
      assert.ok(error instanceof NameRefusedError, String(error));
      assert.deepEqual(await names(storage, 1), []);
    }
  });
}
