/**
 * Every version is charged against the quota for its name and a fixed overhead, besides its
 * bytes: empty files under long names cannot grow the root without limit.
 */
import assert from "node:assert/strict";
import { EmbeddedStorage, INDEX_FILE_NAME } from "../storage/embedded/engine.ts";
import { DatabaseSync } from "node:sqlite";
import { indexVersionCharge, versionChargeSql } from "../storage/quota_charge.ts";
import { MAX_NAME_BYTES } from "../protocol/constants.ts";
import { QuotaExceededError, type Storage } from "../storage/storage.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const QUOTA = 64 * 1024;
const ATTEMPTS = 1000;
/** 970 bytes: a long name, as an attacker would pick. */
const nameOf = (round: number, i: number) =>
  `${round}-${String(i).padStart(6, "0")}-`.padEnd(970, "n");

/** Tries to store `attempts` empty files, 50 at a time; resolves the names stored. */
async function emptyFiles(
  storage: Storage,
  round: number,
  named = nameOf,
  attempts = ATTEMPTS,
): Promise<string[]> {
  const stored: string[] = [];
  for (let at = 0; at < attempts; at += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, j) => {
      const name = named(round, at + j);
      try {
        const upload = await storage.beginUpload(1, name, { size: 0 });
        await upload.commit();
        stored.push(name);
      } catch (error) {
        if (!(error instanceof QuotaExceededError)) throw error;
      }
    }));
  }
  return stored;
}

function indexBytes(root: string): number {
  let bytes = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      bytes += Deno.statSync(`${root}/${INDEX_FILE_NAME}${suffix}`).size;
    } catch {
      // no log
    }
  }
  return bytes;
}

Deno.test("empty files under long names are charged: a 64 KiB quota stops them, deletes included", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-quota-charge-" });
  try {
    const { storage } = await EmbeddedStorage.open({ root, quotaBytes: QUOTA, pruneIntervalMs: 0 });
    try {
      const before = indexBytes(root);
      const charge = indexVersionCharge(970);
      const first = await emptyFiles(storage, 1);
      assert.equal(first.length, Math.floor(QUOTA / charge), "as many as their charge allows");
      // Deleting them keeps them as past versions (30 days): still charged, no room for more.
      for (const name of first) await storage.delete(1, name);
      const second = await emptyFiles(storage, 2);
      assert.equal(second.length, 0, `${second.length} more stored after the deletes`);
      assert.ok(await storage.usage(1) <= QUOTA);
      // 2,000 uploads refused but a handful: the index grew by little more than the quota.
      await storage.settled();
      const grown = indexBytes(root) - before;
      assert.ok(grown < 2 * 1024 * 1024, `the index grew by ${grown} bytes under a 64 KiB quota`);
    } finally {
      await storage.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** The database file's size once its log is copied in and cut (the index as it stays). */
function settledIndexBytes(root: string): number {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`);
  try {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return Deno.statSync(`${root}/${INDEX_FILE_NAME}`).size;
}

Deno.test("names of the longest length, which spill onto overflow pages, are charged what they take", async () => {
  const quota = 1024 * 1024;
  const longest = (round: number, i: number) =>
    `${round}-${String(i).padStart(6, "0")}-`.padEnd(MAX_NAME_BYTES, "n");
  const root = await Deno.makeTempDir({ prefix: "backup-quota-overflow-" });
  try {
    let before: number;
    {
      const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
      await storage.close();
      before = settledIndexBytes(root);
    }
    const { storage } = await EmbeddedStorage.open({ root, quotaBytes: quota, pruneIntervalMs: 0 });
    try {
      const first = await emptyFiles(storage, 1, longest, 400);
      assert.equal(first.length, Math.floor(quota / indexVersionCharge(MAX_NAME_BYTES)));
      for (const name of first) await storage.delete(1, name); // past versions: still charged
      assert.deepEqual(await emptyFiles(storage, 2, longest, 100), []);
      assert.ok(await storage.usage(1) <= quota);
    } finally {
      await storage.close();
    }
    // Each version takes ~10.7 KB (its two index entries spill onto 4 KiB pages of their own):
    // charged 256 + 4 per byte, 240 of them grew the index by 2.5 MiB under a 1 MiB quota.
    const grown = settledIndexBytes(root) - before;
    assert.ok(grown <= quota + 64 * 1024, `the index grew by ${grown} bytes under a 1 MiB quota`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the charge the index's triggers add up in SQL is the one the reservations compute", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const charge = db.prepare(`SELECT ${versionChargeSql("?1")} AS charge`);
    for (let n = 1; n <= 3 * MAX_NAME_BYTES; n++) {
      const { charge: inSql } = charge.get(n) as { charge: number };
      assert.equal(inSql, indexVersionCharge(n), `a name of ${n} bytes`);
    }
  } finally {
    db.close();
  }
});
