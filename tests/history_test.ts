import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { startTestServer } from "./_helpers.ts";
import { runCli } from "./_processes.ts";
import { chunkedCharge, storedFiles, versionCount } from "../harness/stored.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DAY = 86_400_000;
const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const send = (client: BackupClient, name: string, content: Uint8Array) =>
  client.backup(name, ReadableStream.from([content]), content.length);

Deno.test("a replaced or deleted file becomes a past version; version 1 sees only current files", async () => {
  await using t = await startTestServer();
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await send(client, "doc", bytes(10, 1));
  await send(client, "doc", bytes(100_000, 2)); // the first becomes a past version
  await client.delete("doc"); // so does the second
  assert.equal(versionCount(t.root), 2, "both contents are kept");
  await assert.rejects(client.retrieve("doc", new WritableStream()), FileNotFoundError);
  assert.deepEqual(await client.list(), []);
  const charge = indexVersionCharge(3); // what each version of "doc" costs besides its bytes
  assert.equal(
    await t.server.storage.usage(3),
    10 + chunkedCharge(bytes(100_000, 2)) + 2 * charge,
    "past versions count against the quota",
  );
});

Deno.test("--keep-versions keeps the newest N past versions of each name", async () => {
  await using t = await startTestServer({ retention: { keepDays: 30, keepVersions: 2 } });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  for (let round = 1; round <= 5; round++) await send(client, "doc", bytes(round * 70_000, round));
  const kept = chunkedCharge(bytes(5 * 70_000, 5), bytes(4 * 70_000, 4), bytes(3 * 70_000, 3));
  assert.equal(versionCount(t.root), 3, "the current one and two past ones");
  assert.equal(await t.server.storage.usage(3), kept + 3 * indexVersionCharge(3));
  await t.server.storage.prune(); // collects the chunks of dropped versions
  assert.equal((await storedFiles(t.root)).length, 3, "the packs of dropped versions are gone");
});

Deno.test("past versions older than --keep-days are pruned, their packs removed", async () => {
  let now = Date.UTC(2026, 5, 1);
  await using t = await startTestServer({
    retention: { keepDays: 2 },
    pruneIntervalMs: 0,
    now: () => now,
  });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await send(client, "big", bytes(200_000, 1));
  await send(client, "big", bytes(200_000, 2));
  now += DAY;
  await send(client, "big", bytes(200_000, 3));
  assert.equal(versionCount(t.root), 3);
  now += DAY + 1; // the first past version is now older than two days, the second is not
  assert.equal(await t.server.storage.prune(), 1);
  assert.equal(versionCount(t.root), 2);
  assert.equal((await storedFiles(t.root)).length, 2);
  now += DAY;
  assert.equal(await t.server.storage.prune(), 1);
  assert.deepEqual(await client.list(), ["big"], "the current version is never pruned");
});

Deno.test("export writes a user's current files as a folder, with their times, SHA-256 checked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-export-" });
  try {
    const root = `${dir}/root`;
    const stamp = Date.UTC(2026, 0, 2, 3, 4, 5);
    const files = new Map([
      ["a.txt", bytes(5, 65)],
      ["photos/2026/big.jpg", bytes(300_000, 7)],
      ["名前/😀", bytes(0, 0)],
    ]);
    {
      await using t = await startTestServer({ root, now: () => stamp });
      using client = await BackupClient.connect({ userId: 12, port: t.port });
      for (const [name, content] of files) await send(client, name, content);
      await send(client, "gone", bytes(1, 1));
      await client.delete("gone");
      using other = await BackupClient.connect({ userId: 13, port: t.port });
      await send(other, "theirs", bytes(3, 3));
    }
    const to = `${dir}/out`;
    const result = await runCli(
      "server.ts",
      ["export", "--root", root, "--user", "12", "--to", to],
      {
        denoFlags: [`--allow-read=${root},${to}`, `--allow-write=${to}`],
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /exported 3 files \(300005 bytes\) of user 12/);
    for (const [name, content] of files) {
      assert.deepEqual(await Deno.readFile(`${to}/${name}`), content, name);
      assert.equal((await Deno.stat(`${to}/${name}`)).mtime?.getTime(), stamp, name);
    }
    const again = await runCli(
      "server.ts",
      ["export", "--root", root, "--user", "12", "--to", to],
      {
        denoFlags: [`--allow-read=${root},${to}`, `--allow-write=${to}`],
      },
    );
    assert.equal(again.code, 1, "never over existing files");
    assert.match(again.stderr, /is not empty/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
