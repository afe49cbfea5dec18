/**
 * Append-only through the server: a changed file backs up as a new version (the old one kept),
 * deletes are refused, and `--keep-versions` never prunes an append-only user's history; with
 * `--keep-days 0` a replace is refused, since it would destroy the version replaced.
 */
import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_stream.ts";
import { BackupClient } from "../client/backup_client.ts";
import { ServerError, ServerRefusedError } from "../client/client_errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { makeKey, startV2Server } from "./_v2.ts";
import { concat, startTestServer } from "./_helpers.ts";
import type { BackupClientV2 } from "../client/backup_client_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);

async function retrieved(client: BackupClientV2, name: string, versionId?: number) {
  const chunks: Uint8Array[] = [];
  await client.retrieve(name, {
    write: (chunk) => (chunks.push(chunk.slice()), Promise.resolve(chunk.length)),
  }, { versionId });
  return concat(...chunks);
}

Deno.test("an append-only account backs up a changed file: a new version, the old one kept", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice], appendOnly: true }]);
  using client = await t.connect(77, alice);
  await client.backup("a", bytesSource(bytes(5, 1)), 5);
  assert.equal(client.appendOnly, true);
  await client.backup("big", bytesSource(bytes(200_000, 1)), 200_000); // in a data file
  await client.backup("a", bytesSource(bytes(6, 2)), 6);
  await client.backup("big", bytesSource(bytes(200_000, 2)), 200_000);
  for (const [name, size] of [["a", 5], ["big", 200_000]] as const) {
    const versions = await client.versions(name);
    assert.equal(versions.length, 2, `${name}: the old version is listed`);
    assert.equal(versions[0].endedMs !== null && !versions[0].deleted, true);
    assert.deepEqual(await retrieved(client, name, versions[0].versionId), bytes(size, 1));
    assert.deepEqual(await retrieved(client, name), bytes(versions[1].size, 2));
  }
  await assert.rejects(
    client.delete("a"),
    (error: ServerRefusedError) => error.code === RefusalCode.Forbidden,
  );
  assert.deepEqual(await client.list(), ["a", "big"]);
});

Deno.test("--keep-versions does not prune an append-only account's versions; --keep-days does", async () => {
  const alice = await makeKey();
  const bob = await makeKey();
  let now = Date.UTC(2026, 3, 1);
  await using t = await startV2Server([
    { id: 77, keys: [alice], appendOnly: true },
    { id: 78, keys: [bob] },
  ], { retention: { keepDays: 7, keepVersions: 2 }, now: () => now });
  using owner = await t.connect(77, alice);
  using other = await t.connect(78, bob);
  for (let round = 1; round <= 6; round++) {
    now += 1000;
    await owner.backup("doc", bytesSource(bytes(10, round)), 10);
    await other.backup("doc", bytesSource(bytes(10, round)), 10);
  }
  await t.server.storage.settled();
  await t.server.storage.prune();
  assert.equal((await owner.versions("doc")).length, 6, "every version of the append-only account");
  assert.equal((await other.versions("doc")).length, 3, "two past versions of the other");
  now += 8 * 86_400_000;
  await t.server.storage.prune();
  assert.equal((await owner.versions("doc")).length, 1, "past the days kept, gone");
});

Deno.test("append-only with --keep-days 0: a replace is refused (it would destroy the version)", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice], appendOnly: true }], {
    retention: { keepDays: 0 },
  });
  using client = await t.connect(77, alice);
  await client.backup("a", bytesSource(bytes(5, 1)), 5);
  await assert.rejects(
    client.backup("a", bytesSource(bytes(5, 2)), 5),
    (error: ServerRefusedError) =>
      error.code === RefusalCode.Forbidden && /--keep-days 0/.test(error.message),
  );
  await client.backup("b", bytesSource(bytes(5, 3)), 5);
  assert.deepEqual(await retrieved(client, "a"), bytes(5, 1));
});

Deno.test("version 1 under --append-only: a backup replaces (the old file kept), a delete is refused", async () => {
  await using t = await startTestServer({ access: { appendOnly: true } });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await client.backup("a", bytesSource(bytes(4, 1)), 4);
  await client.backup("a", bytesSource(bytes(4, 2)), 4);
  await assert.rejects(client.delete("a"), ServerError);
  assert.deepEqual(await client.list(), ["a"]);
  const versions = await Array.fromAsync((await t.server.storage.versions(3, "a")).pages);
  assert.deepEqual(versions.flat().map((v) => v.size), [4, 4], "the old file is a past version");
});

Deno.test("version 1 under --append-only with --keep-days 0: a replace is refused", async () => {
  await using t = await startTestServer({
    access: { appendOnly: true },
    retention: { keepDays: 0 },
  });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await client.backup("a", bytesSource(bytes(4, 1)), 4);
  await assert.rejects(client.backup("a", bytesSource(bytes(4, 2)), 4), ServerError);
  assert.deepEqual(await client.list(), ["a"]);
});
