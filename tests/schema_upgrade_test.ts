import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { startTestServer } from "./_helpers.ts";
import { storedBytes } from "../harness/stored.ts";
import { SCHEMA_VERSION } from "../storage/embedded/schema.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Takes away schema 7's key slots and schema 6's snapshots (the blobs' columns go below). */
const WITHOUT_SNAPSHOTS = `DROP TRIGGER key_slot_added; DROP TRIGGER key_slot_removed;
  DROP TABLE key_slots; DROP TRIGGER tree_ref_added; DROP TRIGGER tree_ref_removed;
  DROP TRIGGER snapshot_added; DROP TRIGGER snapshot_removed; DROP TRIGGER tree_removed;
  DROP TRIGGER blob_released; DROP TRIGGER unclaimed_blob_added; DROP TRIGGER blob_claimed;
  DROP TRIGGER unclaimed_blob_removed; DROP TABLE tree_refs; DROP TABLE snapshots;
  DELETE FROM counters WHERE name = 'release_seq';`;

/** Takes away schema 5's repository (its tables, triggers and columns): the index has no chunks. */
const WITHOUT_CHUNKS =
  `${WITHOUT_SNAPSHOTS} DROP TRIGGER chunk_referenced; DROP TRIGGER chunk_released;
  DROP TRIGGER blob_liveness; DROP TRIGGER blob_removed; DROP TRIGGER chunked_version_added;
  DROP TRIGGER chunked_version_removed; DROP TABLE version_chunks; DROP TABLE released_chunks;
  DROP TABLE blobs; DROP TABLE packs; ALTER TABLE versions DROP COLUMN chunk_count;
  ALTER TABLE users DROP COLUMN chunked_bytes; ALTER TABLE users DROP COLUMN blob_bytes;`;

/** Takes away the totals of schemas 3 and 4 (their triggers and columns), and schema 5. */
const WITHOUT_TOTALS =
  `${WITHOUT_CHUNKS} DROP TRIGGER version_charged; DROP TRIGGER version_uncharged;
  ALTER TABLE users DROP COLUMN versions; ALTER TABLE users DROP COLUMN version_name_bytes;
  ALTER TABLE users DROP COLUMN version_charge_bytes;`;

Deno.test("an index of schema 1 (the first release) is upgraded in place, every byte kept", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-schema-" });
  try {
    const content = new Uint8Array(60_000).map((_, i) => i % 7);
    {
      await using t = await startTestServer({ root });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      await client.backup("big", bytesSource(content), content.length);
      await client.backup("small", bytesSource(new Uint8Array([1, 2, 3])), 3);
    }
    // Make it what the first release wrote: schema 1, without schema 2's index and schema 3's
    // totals.
    const db = new DatabaseSync(`${root}/index.sqlite`);
    db.exec(`DROP INDEX by_name_and_time; ${WITHOUT_TOTALS} PRAGMA user_version = 1;`);
    db.close();
    await using t = await startTestServer({ root });
    const check = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
    const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
    const index = check.prepare("SELECT name FROM sqlite_master WHERE name = 'by_name_and_time'")
      .get();
    check.close();
    assert.equal(version.user_version, SCHEMA_VERSION);
    assert.ok(index, "schema 2's index exists");
    assert.deepEqual(storedBytes(root, 1, "big"), content);
    assert.deepEqual(storedBytes(root, 1, "small"), new Uint8Array([1, 2, 3]));
    const listing = await t.server.storage.entries(1, { atMs: Date.now() });
    const names = [];
    for await (const page of listing.pages) {
      names.push(...page.map((r) => new TextDecoder().decode(r.name)));
    }
    assert.deepEqual(names, ["big", "small"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an index of schema 2 is upgraded in place: its versions are charged to the quota from the rows", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-schema-" });
  try {
    const content = new Uint8Array(60_000).map((_, i) => i % 5);
    {
      await using t = await startTestServer({ root });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      await client.backup("big", bytesSource(content), content.length);
      await client.backup("big", bytesSource(new Uint8Array([9])), 1); // "big" has a past version
      await client.backup("small", bytesSource(new Uint8Array([1, 2, 3])), 3);
      await client.delete("small");
    }
    // Make it what schema 2 wrote: the users table without the totals of versions and names.
    const db = new DatabaseSync(`${root}/index.sqlite`);
    db.exec(`${WITHOUT_TOTALS} PRAGMA user_version = 2;`);
    db.close();
    await using t = await startTestServer({ root });
    const charged = 60_000 + 1 + 3 + 2 * indexVersionCharge(3) + indexVersionCharge(5);
    assert.equal(await t.server.storage.usage(1), charged);
    // The totals go on from there, exact.
    using client = await BackupClient.connect({ userId: 1, port: t.port });
    await client.backup("new", bytesSource(new Uint8Array([7, 7])), 2);
    assert.equal(await t.server.storage.usage(1), charged + 2 + indexVersionCharge(3));
    assert.deepEqual(storedBytes(root, 1, "big"), new Uint8Array([9]));
    const check = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
    const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
    check.close();
    assert.equal(version.user_version, SCHEMA_VERSION);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an index of schema 3 is upgraded in place: long names are charged as SQLite stores them", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-schema-" });
  try {
    const long = (tag: string) => tag.padEnd(1024, "n");
    {
      const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
      try {
        for (const tag of ["a", "b", "c"]) {
          await (await storage.beginUpload(1, long(tag), { size: 0 })).commit();
        }
        await storage.delete(1, long("c")); // a past version is charged too
        await (await storage.beginUpload(1, "short", { size: 0 })).commit();
      } finally {
        await storage.close();
      }
    }
    // Make it what schema 3 wrote: totals of versions and name bytes, charged 256 + 4 per byte.
    const db = new DatabaseSync(`${root}/index.sqlite`);
    db.exec(`${WITHOUT_CHUNKS} DROP TRIGGER version_charged; DROP TRIGGER version_uncharged;
      ALTER TABLE users DROP COLUMN version_charge_bytes;
      CREATE TRIGGER version_counted AFTER INSERT ON versions BEGIN
        INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
        UPDATE users SET versions = versions + 1,
          version_name_bytes = version_name_bytes + length(NEW.name) WHERE user_id = NEW.user_id;
      END;
      CREATE TRIGGER version_uncounted AFTER DELETE ON versions BEGIN
        UPDATE users SET versions = versions - 1,
          version_name_bytes = version_name_bytes - length(OLD.name) WHERE user_id = OLD.user_id;
      END;
      PRAGMA user_version = 3;`);
    db.close();
    const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    try {
      const charged = 3 * indexVersionCharge(1024) + indexVersionCharge(5);
      assert.ok(indexVersionCharge(1024) > 10_000, "a 1,024-byte name spills: ~10.7 KB");
      assert.equal(await storage.usage(1), charged);
      // The total goes on from there, exact, as versions come and go.
      const upload = await storage.beginUpload(1, long("d"), { size: 2 });
      await upload.write(new Uint8Array([1, 2]));
      await upload.commit();
      assert.equal(await storage.usage(1), charged + 2 + indexVersionCharge(1024));
      await (await storage.beginUpload(1, long("d"), { size: 0 })).commit(); // a past version
      assert.equal(await storage.usage(1), charged + 2 + 2 * indexVersionCharge(1024));
      const check = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
      const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
      const triggers = check.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'version_%counted'",
      ).all();
      check.close();
      assert.equal(version.user_version, SCHEMA_VERSION);
      assert.deepEqual(triggers, [], "schema 3's triggers are gone");
    } finally {
      await storage.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
