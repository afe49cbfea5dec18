import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { DatabaseSync } from "node:sqlite";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** The index's per-user totals against a sum over its rows: the triggers must keep them exact. */
function totals(root: string, userId: number) {
  const db = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
  try {
    const kept = db.prepare(
      "SELECT current_bytes + past_bytes AS used, files FROM users WHERE user_id = ?",
    )
      .get(userId) as { used: number; files: number };
    const summed = db.prepare(
      "SELECT total(size) AS used, total(current) AS files FROM versions WHERE user_id = ?",
    ).get(userId) as { used: number; files: number };
    return { kept, summed };
  } finally {
    db.close();
  }
}

for (const keepDays of [0, 30]) {
  Deno.test(`quota is exact under concurrent uploads, replaces and deletes of one name (keep ${keepDays} days)`, async () => {
    const quota = 100_000;
    await using t = await startTestServer({
      limits: { quotaBytes: quota },
      retention: { keepDays },
    });
    const sizes = [30_000, 45_000, 60_000, 20_000];
    let stored = 0;
    await Promise.all(Array.from({ length: 6 }, async (_, worker) => {
      for (let round = 0; round < 12; round++) {
        // A refused upload closes its connection: each request gets its own.
        try {
          using client = await BackupClient.connect({ userId: 1, port: t.port });
          if ((worker + round) % 3 === 0) await client.delete("same");
          else {
            const size = sizes[(worker * 7 + round) % sizes.length];
            await client.backup("same", ReadableStream.from([new Uint8Array(size)]), size);
            stored++;
          }
        } catch {
          // over the quota (1003) or nothing to delete (1001): both are answers this test expects
        }
        const { kept, summed } = totals(t.root, 1);
        assert.deepEqual(kept, summed, "the per-user totals match the versions");
        assert.ok(kept.used <= quota, `${kept.used} bytes stored under a quota of ${quota}`);
      }
    }));
    assert.ok(stored > 0, "some uploads fit");
  });
}

Deno.test("uploads and deletes in the same folders over the protocol: every upload lands", async () => {
  await using t = await startTestServer();
  const bytes = (text: string) => ReadableStream.from([new TextEncoder().encode(text)]);
  const connect = () => BackupClient.connect({ userId: 1, port: t.port });
  const workers = 8;
  const rounds = 25;
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    using deleter = await connect();
    using uploader = await connect();
    for (let round = 0; round < rounds; round++) {
      const folder = `w${worker}/r${round}`;
      await uploader.backup(`${folder}/old`, bytes("old"), 3);
      // The delete removes `old`, then the folders it leaves empty; the upload needs them.
      await Promise.all([
        deleter.delete(`${folder}/old`),
        uploader.backup(`${folder}/new`, bytes("new"), 3),
      ]);
    }
  }));
  using client = await connect();
  const names = new Set(await client.list());
  for (let worker = 0; worker < workers; worker++) {
    for (let round = 0; round < rounds; round++) {
      assert.ok(names.has(`w${worker}/r${round}/new`), `w${worker}/r${round}/new`);
    }
  }
  assert.equal(names.size, workers * rounds);
});
