import assert from "node:assert/strict";
import { ReadCache, SETTLE_MS } from "../server/read_cache.ts";
import { Storage } from "../server/storage.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { readFull } from "../io/relay.ts";
import { Op, Status } from "../protocol/mod.ts";
import { RawClient, requestFrame, startTestServer, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A real file's `lstat`, with the fields the cache compares replaced as given. */
const template = Deno.lstatSync(new URL(import.meta.url).pathname);
const info = (changes: Partial<Deno.FileInfo> = {}): Deno.FileInfo => ({
  ...template,
  ino: 7,
  size: 4,
  mtime: new Date(1_000_500),
  ctime: new Date(1_000_000),
  ...changes,
});
const bytes = (text: string) => new TextEncoder().encode(text);

/** A cache on a hand-moved clock. */
function cacheAt(capacityBytes = 1024) {
  const clock = { now: 0 };
  const cache = new ReadCache({ capacityBytes, maxFileBytes: 64, now: () => clock.now });
  return { cache, clock };
}

Deno.test("a file is kept only on a read a settling time after an earlier read saw it unchanged", () => {
  const { cache, clock } = cacheAt();
  assert.equal(cache.wants("/r/1/a", info()), false, "first read: only noted");
  clock.now = SETTLE_MS - 1;
  assert.equal(cache.wants("/r/1/a", info()), false, "too soon");
  clock.now = SETTLE_MS;
  assert.equal(cache.wants("/r/1/a", info({ ctime: new Date(1_001_000) })), false, "changed");
  clock.now = 2 * SETTLE_MS - 1;
  assert.equal(
    cache.wants("/r/1/a", info({ ctime: new Date(1_001_000) })),
    false,
    "clock restarted",
  );
  clock.now = 2 * SETTLE_MS;
  assert.equal(cache.wants("/r/1/a", info({ ctime: new Date(1_001_000) })), true);
  assert.equal(cache.wants("/r/1/big", info({ size: 65 })), false, "over the largest file size");
  assert.equal(cache.wants("/r/1/dir", info({ isFile: false, isDirectory: true })), false);
});

Deno.test("a cached file is served only while lstat shows it unchanged", () => {
  const { cache } = cacheAt();
  cache.put("/r/1/a", info(), bytes("abcd"));
  assert.deepEqual(cache.lookup("/r/1/a", info()), bytes("abcd"));
  for (
    const changed of [
      info({ ino: 8 }),
      info({ size: 5 }),
      info({ mtime: new Date(1_000_501) }),
      info({ ctime: new Date(1_001_000) }),
      info({ isFile: false, isSymlink: true }),
      undefined, // gone
    ]
  ) {
    cache.put("/r/1/a", info(), bytes("abcd"));
    assert.equal(cache.lookup("/r/1/a", changed), undefined);
    assert.equal(cache.holds("/r/1/a"), false, "a stale entry is dropped");
  }
  assert.deepEqual(cache.stats(), { hits: 1, files: 0, bytes: 0 });
  cache.put("/r/1/a", info(), bytes("abc"));
  assert.equal(cache.holds("/r/1/a"), false, "bytes that do not match the size are not kept");
});

Deno.test("the least recently used files make room, within the capacity", () => {
  const { cache } = cacheAt(12);
  for (const name of ["a", "b", "c"]) cache.put(`/r/1/${name}`, info(), bytes("1234"));
  assert.ok(cache.lookup("/r/1/a", info()), "a is now the most recently used");
  cache.put("/r/1/d", info(), bytes("1234"));
  assert.deepEqual(["a", "b", "c", "d"].map((name) => cache.holds(`/r/1/${name}`)), [
    true,
    false,
    true,
    true,
  ]);
  assert.equal(cache.stats().bytes, 12);
  cache.forget("/r/1/c");
  assert.deepEqual(cache.stats(), { hits: 1, files: 2, bytes: 8 });
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Retrieves `name` for user 1: the status, and the content as text. */
async function retrieve(client: RawClient, name: string) {
  await client.send(requestFrame(1, Op.Retrieve, name));
  const { header, payload } = await client.readResponse();
  return { status: header.status, text: new TextDecoder().decode(payload) };
}

Deno.test("over the protocol: repeated retrieves come from memory, and every change is seen at once", async () => {
  await using t = await startTestServer();
  using client = await RawClient.connect(t.port);
  await client.send(requestFrame(1, Op.Backup, "a.txt", utf8("version 1")));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  assert.equal((await retrieve(client, "a.txt")).text, "version 1");
  await sleep(SETTLE_MS + 50);
  assert.equal((await retrieve(client, "a.txt")).text, "version 1", "read and kept");
  assert.equal((await retrieve(client, "a.txt")).text, "version 1", "from memory");
  assert.equal(t.server.stats().readCache.hits, 1);

  // Another program rewrites it in place, same size, and puts the old mtime back: ctime still moves.
  const path = `${t.root}/1/a.txt`;
  const before = await Deno.lstat(path);
  await Deno.writeTextFile(path, "version 2");
  await Deno.utime(path, before.atime!, before.mtime!);
  assert.equal((await retrieve(client, "a.txt")).text, "version 2");

  await client.send(requestFrame(1, Op.Backup, "a.txt", utf8("version 3")));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  assert.equal((await retrieve(client, "a.txt")).text, "version 3");
  await client.send(requestFrame(1, Op.Delete, "a.txt"));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  assert.equal((await retrieve(client, "a.txt")).status, Status.FileNotFound);
  assert.equal(t.server.stats().readCache.hits, 1, "no stale hit after any change");
});

Deno.test("over the protocol: a link swapped in for a cached file is refused; a cache of 0 keeps nothing", async () => {
  const outside = await Deno.makeTempDir({ prefix: "backup-test-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/secret`, "outside!!");
    for (const readCacheBytes of [undefined, 0]) {
      await using t = await startTestServer({ readCacheBytes });
      using client = await RawClient.connect(t.port);
      await client.send(requestFrame(1, Op.Backup, "a.txt", utf8("version 1")));
      assert.equal((await client.readResponse()).header.status, Status.Done);
      await retrieve(client, "a.txt");
      await sleep(SETTLE_MS + 50);
      await retrieve(client, "a.txt");
      assert.equal((await retrieve(client, "a.txt")).text, "version 1");
      assert.equal(t.server.stats().readCache.hits, readCacheBytes === 0 ? 0 : 1);
      assert.equal(t.server.stats().readCache.files, readCacheBytes === 0 ? 0 : 1);

      await Deno.symlink(`${outside}/secret`, `${t.root}/1/link`);
      await Deno.rename(`${t.root}/1/link`, `${t.root}/1/a.txt`);
      const swapped = await retrieve(client, "a.txt");
      assert.equal(swapped.status, Status.GeneralError);
      assert.equal(swapped.text, "");
    }
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("storage under concurrent uploads, retrieves and deletes, with a small cache that admits at once, reads what was last stored", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-test-root-" });
  try {
    const cache = new ReadCache({ capacityBytes: 8 * 1000, settleMs: 0 });
    const { storage } = await Storage.open({ root, readCache: cache });
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    await Promise.all(Array.from({ length: 8 }, async (_, userId) => {
      const stored = new Map<string, Uint8Array>(); // what this user last stored, by name
      for (let op = 0; op < 300; op++) {
        const name = ["a", "b", "c/d", "e/f/g"][Math.floor(random() * 4)];
        const dice = random();
        if (dice < 0.25) {
          // Always 1,000 bytes: only the inode, mtime and ctime tell versions apart.
          const bytes = new Uint8Array(1000).fill(op % 256);
          bytes[0] = userId;
          const upload = storage.beginUpload(userId, name);
          await upload.write(bytes);
          await upload.commit();
          stored.set(name, bytes);
        } else if (dice < 0.35 && stored.has(name)) {
          await storage.delete(userId, name);
          stored.delete(name);
        } else if (!stored.has(name)) {
          assert.throws(() => storage.openForRead(userId, name), FileNotFoundError);
        } else {
          using file = storage.openForRead(userId, name);
          const back = new Uint8Array(file.size);
          assert.equal(await readFull(file.source, back), 1000);
          assert.deepEqual(back, stored.get(name), `user ${userId} ${name} at op ${op}`);
        }
      }
    }));
    const { hits, bytes } = cache.stats();
    assert.ok(hits > 100, `the cache served ${hits} reads`);
    assert.ok(bytes <= 8 * 1000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
