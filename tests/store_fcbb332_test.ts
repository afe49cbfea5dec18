/**
 * A store written by the previous release (fcbb332, schema 2) opens with today's code: every
 * version is read back byte for byte, and the quota counts each version as today's code charges it.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FIXTURE = new URL("./fixtures/store-fcbb332/", import.meta.url).pathname;
/** The clock `make_store.ts.txt` gave the server that wrote the fixture. */
const FIXTURE_WRITTEN_MS = 1_767_000_000_000;
const LONG = `long/${"n".repeat(240)}/${"o".repeat(240)}/${"p".repeat(240)}/${"q".repeat(240)}`;

/** The bytes `make_store.ts.txt` wrote for `name` in `round` (the same formula). */
function content(name: string, size: number, round: number): Uint8Array {
  let seed = round * 131;
  for (const char of name) seed = (seed * 31 + char.codePointAt(0)!) >>> 0;
  return Uint8Array.from({ length: size }, (_, i) => (seed + i * 7 + (i >> 8)) & 0xff);
}

/** A copy of the fixture to open (opening writes to it). */
async function copyOfFixture(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "backup-fcbb332-" });
  for (
    const path of [
      "index.sqlite",
      "data/33/33a0a9b5f7578ee18cdd9e8c26f67377",
      "data/35/352d6887904baf22199759723bf9ca6d",
    ]
  ) {
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.copyFile(`${FIXTURE}${path}`, `${root}/${path}`);
  }
  return root;
}

async function retrieve(client: BackupClient, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await client.retrieve(
    name,
    new WritableStream({ write: (chunk) => void chunks.push(chunk.slice()) }),
  );
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) bytes.set(chunk, (at += chunk.length) - chunk.length);
  return bytes;
}

Deno.test("a store written by fcbb332 opens: every version byte for byte, usage with today's charge", async () => {
  const root = await copyOfFixture();
  // The fixture's clock: today's, a year on, would prune its past version (30 days kept).
  await using t = await startTestServer({ root, now: () => FIXTURE_WRITTEN_MS + 60_000 });
  const current: Array<[number, string, number, number]> = [
    [1, "notes.txt", 150, 1],
    [1, "photos/cat.jpg", 80_000, 0],
    [1, "photos/dog.jpg", 70_000, 0],
    [1, "empty", 0, 0],
    [1, LONG, 10, 0],
    [1, "grüße/ünïcode.txt", 500, 0],
    [2, "other-user.txt", 1234, 0],
  ];
  for (const [userId, name, size, round] of current) {
    using client = await BackupClient.connect({ userId, port: t.port });
    assert.deepEqual(await retrieve(client, name), content(name, size, round), name);
  }
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  assert.deepEqual(
    (await client.list()).sort(),
    current.filter(([userId]) => userId === 1).map(([, name]) => name).sort(),
  );
  // The replaced first version of notes.txt is still there, as a past version.
  using versions = await t.server.storage.versions(1, "notes.txt");
  const records = [];
  for await (const page of versions.pages) records.push(...page);
  assert.equal(records.length, 2);
  const past = records.find((record) => record.endedMs !== null)!;
  using stored = await t.server.storage.open(1, "notes.txt", past.versionId);
  assert.equal(stored.metadata.size, 100);
  // Usage: every version's bytes, and each version's charge (the deleted gone.txt's too).
  const versionsOfUser1: Array<[string, number]> = [
    ["notes.txt", 100],
    ["notes.txt", 150],
    ["photos/cat.jpg", 80_000],
    ["photos/dog.jpg", 70_000],
    ["empty", 0],
    [LONG, 10],
    ["grüße/ünïcode.txt", 500],
    ["gone.txt", 42],
  ];
  const encoder = new TextEncoder();
  const expected = versionsOfUser1.reduce(
    (sum, [name, size]) => sum + size + indexVersionCharge(encoder.encode(name).length),
    0,
  );
  assert.equal(await t.server.storage.usage(1), expected);
});
