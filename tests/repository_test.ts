/**
 * What the repository saves, through a real server and today's client (the whole file on the
 * wire): the same bytes under a second name, a small change in a large file, compressible text.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../mod.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";
import { REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import { sameBytes, startTestServer } from "./_helpers.ts";
import { randomBytes } from "./_packs.ts";
import {
  bytesUnder,
  generatedText,
  getBytes,
  MiB,
  packNames,
  retrieveBytes,
} from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function backup(client: BackupClient, name: string, bytes: Uint8Array): Promise<void> {
  await client.backup(name, bytesSource(bytes), bytes.length);
}

/** Bytes of every pack file under a root. */
async function packBytes(root: string): Promise<number> {
  let total = 0;
  for (const name of await packNames(root)) {
    total += (await Deno.stat(`${root}/${REPOSITORY_DIR_NAME}/${name}`)).size;
  }
  return total;
}

Deno.test("the same 20 MiB under a second name costs one version's charge and no pack; another user stores it again", async () => {
  await using t = await startTestServer();
  const bytes = randomBytes(20 * MiB);
  using alice = await BackupClient.connect({ userId: 1, port: t.port });
  await backup(alice, "first.bin", bytes);
  const usageBefore = await t.server.storage.usage(1);
  const packsBefore = await packNames(t.root);
  assert.ok(usageBefore >= bytes.length, "random bytes are charged in full once");

  await backup(alice, "second.bin", bytes);
  const grown = await t.server.storage.usage(1) - usageBefore;
  assert.ok(grown > 0, "the second version is charged");
  assert.ok(
    grown <= indexVersionCharge("second.bin".length),
    `the second name grows usage by ${grown} bytes, at most one version's charge`,
  );
  assert.deepEqual(await packNames(t.root), packsBefore, "no pack is written for it");
  assert.ok(sameBytes(await retrieveBytes(alice, "second.bin"), bytes));

  // Never across users: the server must not tell Bob that Alice has these bytes.
  using bob = await BackupClient.connect({ userId: 2, port: t.port });
  await backup(bob, "copy.bin", bytes);
  assert.ok(
    (await t.server.storage.usage(2)) >= bytes.length,
    "Bob is charged for the bytes he stores",
  );
  assert.equal(await t.server.storage.usage(1), usageBefore + grown, "Alice's usage unchanged");
  const bobPacks = (await packNames(t.root)).filter((name) => !packsBefore.includes(name));
  assert.ok(bobPacks.length > 0, "Bob's chunks are in packs of his own");
  assert.ok(sameBytes(await retrieveBytes(bob, "copy.bin"), bytes));
});

Deno.test("1 MiB overwritten in the middle of 64 MiB: the root grows by at most 8 MiB, both versions whole", async () => {
  await using t = await startTestServer();
  const size = 64 * MiB;
  const original = randomBytes(size);
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await backup(client, "disk.img", original);
  const oldVersion = (await t.server.storage.stat(1, "disk.img"))!.versionId;
  const rootBefore = await bytesUnder(t.root);
  const usageBefore = await t.server.storage.usage(1);

  const changed = original.slice();
  changed.set(randomBytes(MiB), size / 2);
  await backup(client, "disk.img", changed);
  const rootGrown = await bytesUnder(t.root) - rootBefore;
  const usageGrown = await t.server.storage.usage(1) - usageBefore;
  assert.ok(rootGrown <= 8 * MiB, `the root grew by ${rootGrown} bytes`);
  assert.ok(usageGrown >= MiB, `the new MiB is charged (usage grew by ${usageGrown})`);
  assert.ok(usageGrown < rootGrown + MiB && usageGrown <= 8 * MiB, `usage grew by ${usageGrown}`);

  assert.ok(sameBytes(await retrieveBytes(client, "disk.img"), changed), "the new version");
  assert.ok(
    sameBytes(await getBytes(t.server.storage, 1, "disk.img", oldVersion), original),
    "the old version",
  );
});

Deno.test("20 MiB of text and JSON is stored in at most 40% of its size, and restores whole", async () => {
  await using t = await startTestServer();
  const text = generatedText(21, 20 * MiB);
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  const usageBefore = await t.server.storage.usage(1);
  await backup(client, "app.log", text);
  const usage = await t.server.storage.usage(1) - usageBefore;
  const packs = await packBytes(t.root);
  assert.ok(usage <= 0.4 * text.length, `usage ${usage} of ${text.length}`);
  assert.ok(packs <= 0.4 * text.length, `packs ${packs} of ${text.length}`);
  assert.ok(sameBytes(await retrieveBytes(client, "app.log"), text));
});
