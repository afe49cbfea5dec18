/**
 * The index's log (SQLite's `-wal` file) stays bounded while lists are read slowly, and shrinks
 * once a reader that held it is gone, whether writes follow or not.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { EmbeddedStorage, INDEX_FILE_NAME } from "../storage/embedded/engine.ts";
import { LOG_SIZE_LIMIT_BYTES } from "../storage/embedded/schema.ts";
import type { Storage } from "../storage/storage.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;
/** Small files go into the index itself: every byte of them passes through the log. */
const FILE_BYTES = 16 * 1024;

async function put(storage: Storage, userId: number, name: string, size: number) {
  const upload = await storage.beginUpload(userId, name, { size });
  await upload.write(new Uint8Array(size).fill(name.length & 0xff));
  await upload.commit();
}

/** Stores `count` files of `size` bytes, 64 at a time (group commit), calling `each` per batch. */
async function putMany(
  storage: Storage,
  userId: number,
  options: { count: number; size: number; prefix: string; each?: () => void },
) {
  for (let at = 0; at < options.count; at += 64) {
    const batch = [];
    for (let i = at; i < Math.min(options.count, at + 64); i++) {
      batch.push(
        put(storage, userId, `${options.prefix}${String(i).padStart(6, "0")}`, options.size),
      );
    }
    await Promise.all(batch);
    options.each?.();
  }
}

function logBytes(root: string): number {
  try {
    return Deno.statSync(`${root}/${INDEX_FILE_NAME}-wal`).size;
  } catch {
    return 0;
  }
}

async function withStorage(work: (storage: EmbeddedStorage, root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "backup-list-wal-" });
  try {
    const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    try {
      await work(storage, root);
    } finally {
      await storage.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a list read slowly does not pin the log: it stays bounded while another user uploads 24 MiB", async () => {
  await withStorage(async (storage, root) => {
    await putMany(storage, 1, { count: 3000, size: 0, prefix: "listed/" });
    // Two readers that took their first page and stopped there: a v1 list and a v2 list.
    using names = await storage.list(1);
    using entries = await storage.entries(1);
    const namePages = names.pages[Symbol.asyncIterator]();
    const entryPages = entries.pages[Symbol.asyncIterator]();
    let listed = decoderCount((await namePages.next()).value as Uint8Array);
    let entryCount = ((await entryPages.next()).value as unknown[]).length;

    let largest = 0;
    await putMany(storage, 2, {
      count: (24 * MiB) / FILE_BYTES,
      size: FILE_BYTES,
      prefix: "upload/",
      each: () => void (largest = Math.max(largest, logBytes(root))),
    });
    assert.ok(
      largest < 8 * MiB,
      `the log reached ${
        (largest / MiB).toFixed(1)
      } MiB while the lists were open (24 MiB written)`,
    );
    // The lists go on where they stopped, and end with every name.
    for (let next = await namePages.next(); !next.done; next = await namePages.next()) {
      listed += decoderCount(next.value);
    }
    for (let next = await entryPages.next(); !next.done; next = await entryPages.next()) {
      entryCount += next.value.length;
    }
    assert.equal(listed, 3000);
    assert.equal(entryCount, 3000);
  });
});

Deno.test("the log shrinks once a reader that held it is gone, with no write after", async () => {
  await withStorage(async (storage, root) => {
    // Another program's read transaction (a backup of the index, sqlite3 at a prompt) pins it.
    const reader = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
    try {
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM versions").get();
      await putMany(storage, 2, { count: (12 * MiB) / FILE_BYTES, size: FILE_BYTES, prefix: "f/" });
      const grown = logBytes(root);
      assert.ok(grown > 10 * MiB, `a pinned log grows (${grown} bytes)`);
      reader.exec("ROLLBACK");
    } finally {
      reader.close();
    }
    // No more writes: the server cuts the log back by itself.
    const deadline = Date.now() + 10_000;
    while (logBytes(root) > LOG_SIZE_LIMIT_BYTES) {
      assert.ok(Date.now() < deadline, `the log is still ${logBytes(root)} bytes 10 s later`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // And what it held is all there.
    using listing = await storage.list(2);
    assert.equal(listing.files, (12 * MiB) / FILE_BYTES);
  });
});

function decoderCount(page: Uint8Array): number {
  let count = 0;
  for (const byte of page) if (byte === 0x0a) count++;
  return count;
}
