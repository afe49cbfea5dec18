import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { startTestServer } from "./_helpers.ts";
import { storedBytes } from "../harness/stored.ts";
import { SCHEMA_VERSION } from "../storage/embedded/schema.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("an index of schema 1 (the first release) is upgraded in place, every byte kept", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-schema-" });
  try {
    const content = new Uint8Array(100_000).map((_, i) => i % 7);
    {
      await using t = await startTestServer({ root });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      await client.backup("big", bytesSource(content), content.length);
      await client.backup("small", bytesSource(new Uint8Array([1, 2, 3])), 3);
    }
    // Make it what the first release wrote: schema 1, without schema 2's index and schema 3's
    // totals.
    const db = new DatabaseSync(`${root}/index.sqlite`);
    db.exec(`DROP INDEX by_name_and_time; DROP TRIGGER version_counted;
      DROP TRIGGER version_uncounted; ALTER TABLE users DROP COLUMN versions;
      ALTER TABLE users DROP COLUMN version_name_bytes; PRAGMA user_version = 1;`);
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
    const content = new Uint8Array(100_000).map((_, i) => i % 5);
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
    db.exec(`DROP TRIGGER version_counted; DROP TRIGGER version_uncounted;
      ALTER TABLE users DROP COLUMN versions; ALTER TABLE users DROP COLUMN version_name_bytes;
      PRAGMA user_version = 2;`);
    db.close();
    await using t = await startTestServer({ root });
    const charged = 100_000 + 1 + 3 + 2 * indexVersionCharge(3) + indexVersionCharge(5);
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
