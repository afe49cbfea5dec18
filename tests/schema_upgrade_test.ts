import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { startTestServer } from "./_helpers.ts";
import { storedBytes } from "../harness/stored.ts";

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
    // Make it what the first release wrote: schema 1, without schema 2's index.
    const db = new DatabaseSync(`${root}/index.sqlite`);
    db.exec("DROP INDEX by_name_and_time; PRAGMA user_version = 1;");
    db.close();
    await using t = await startTestServer({ root });
    const check = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
    const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
    const index = check.prepare("SELECT name FROM sqlite_master WHERE name = 'by_name_and_time'")
      .get();
    check.close();
    assert.equal(version.user_version, 2);
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
