/**
 * A store written by the release before the repository (9c7e87b, schema 4: large files as data
 * files) opens with today's code (schema 5: large files as chunks in packs): every version, current
 * and past, is read back byte for byte with its metadata, the quota counts what today's code
 * charges, `verifyRoot` finds nothing wrong, the same bytes uploaded again go into packs, and the
 * old data files are removed once retention lets their versions go.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { bytesSource } from "../io/byte_stream.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";
import { BLOB_OVERHEAD_BYTES, indexVersionCharge } from "../storage/quota_charge.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { concat, startTestServer, toHex } from "./_helpers.ts";
import { CA, makeKey, TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FIXTURE = new URL("./fixtures/store-9c7e87b/", import.meta.url).pathname;
/** The clock of `make_store.ts.txt`: step `i` ran at `FIXTURE_BASE_MS + i * STEP_MS`. */
const FIXTURE_BASE_MS = 1_768_000_000_000;
const STEP_MS = 60_000;
const DAY_MS = 86_400_000;
const LONG = `long/${"n".repeat(250)}/${"o".repeat(250)}/${"p".repeat(250)}/${"q".repeat(250)}`;
const LONG_LARGE = `l/${"r".repeat(254)}/${"s".repeat(254)}/${"t".repeat(254)}/${"u".repeat(254)}`;
const encoder = new TextEncoder();

/** The bytes `make_store.ts.txt` wrote for `name` in `round` (the same formula). */
function content(name: string, size: number, round: number): Uint8Array<ArrayBuffer> {
  let seed = round * 131;
  for (const char of name) seed = (seed * 31 + char.codePointAt(0)!) >>> 0;
  return Uint8Array.from({ length: size }, (_, i) => (seed + i * 7 + (i >> 8)) & 0xff);
}

/** The steps of `make_store.ts.txt`, in its order: [kind, user, name, size, round, mode, bytes of]. */
type Step =
  | ["put", number, string, number, number, number | null, string?]
  | ["delete", number, string];
const STEPS: Step[] = [
  ["put", 1, "notes.txt", 100, 0, 0o644],
  ["put", 1, "photos/cat.jpg", 150_000, 0, 0o600],
  ["put", 1, "photos/dog.jpg", 100_000, 0, 0o644],
  ["put", 1, "empty", 0, 0, null],
  ["put", 1, LONG, 10, 0, 0o644],
  ["put", 1, LONG_LARGE, 66_000, 0, 0o755],
  ["put", 1, "grüße/ünïcode.txt", 500, 0, 0o644],
  ["put", 1, "journal.log", 70_000, 0, 0o640],
  ["put", 1, "gone.txt", 42, 0, 0o644],
  ["put", 1, "big-gone.bin", 90_000, 0, 0o644],
  ["put", 1, "notes.txt", 150, 1, 0o644],
  ["put", 1, "photos/dog.jpg", 100_000, 1, 0o644],
  ["put", 1, "journal.log", 140_000, 0, 0o640],
  ["delete", 1, "gone.txt"],
  ["delete", 1, "big-gone.bin"],
  ["put", 1, "journal.log", 210_000, 0, 0o640],
  ["put", 1, "again.txt", 20, 0, 0o644],
  ["delete", 1, "again.txt"],
  ["put", 1, "again.txt", 30, 1, 0o644],
  ["put", 2, "other-user.txt", 1234, 0, 0o600],
  ["put", 2, "shared.bin", 150_000, 0, 0o644, "photos/cat.jpg"],
  ["put", 3, "v1.txt", 77, 0, null],
  ["put", 3, "v1-big.bin", 80_000, 0, null],
];
/** The data file of each large version, by version id (printed by `make_store.ts.txt`). */
const DATA_FILES: Record<number, string> = {
  2: "5a09d49e7e44379d557eaeee597be1af",
  3: "cde5e1b6577b1171bcdb3f0f3efc58d1",
  6: "91f8ecc646d17700dac95ebf77fa7019",
  8: "73c3c2b10376cd51022d35dc885c6197",
  10: "2bdf2853b99b2657a2f0461077e120c1",
  12: "f6549d07561286b18d0450f514d2f2e1",
  13: "c8ed46126ed3401a26357e7a88615ba8",
  14: "e5e88e915ad4ea2b9a3e61a014df6e26",
  18: "0ab803af0555181f1fd537c60541d5f0",
  20: "b3a06a076ddc544c5c9dcd654f1065c8",
};

/** A version as the steps made it. */
interface Expected {
  versionId: number;
  userId: number;
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
  storedMs: number;
  endedMs: number | null;
  deleted: boolean;
  mtimeMs: number | undefined; // v1 uploads (user 3) send none
  mode: number | null;
}

/** Replays the steps: every version, its id (1, 2, ... in order), times and end. */
function expectedVersions(): Expected[] {
  const versions: Expected[] = [];
  const current = (userId: number, name: string) =>
    versions.find((v) => v.userId === userId && v.name === name && v.endedMs === null);
  for (const [index, step] of STEPS.entries()) {
    const at = FIXTURE_BASE_MS + index * STEP_MS;
    const ended = current(step[1], step[2]);
    if (ended) ended.endedMs = at;
    if (step[0] === "delete") {
      ended!.deleted = true;
      continue;
    }
    const [, userId, name, size, round, mode, bytesOf] = step;
    versions.push({
      versionId: versions.length + 1,
      userId,
      name,
      bytes: content(bytesOf ?? name, size, round),
      storedMs: at,
      endedMs: null,
      deleted: false,
      mtimeMs: userId === 3 ? undefined : FIXTURE_BASE_MS - (index + 1) * DAY_MS,
      mode,
    });
  }
  return versions;
}

/** A copy of the fixture to open (opening upgrades it): the index and every data file. */
async function copyOfFixture(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "backup-9c7e87b-" });
  await Deno.copyFile(`${FIXTURE}index.sqlite`, `${root}/index.sqlite`);
  for (const name of Object.values(DATA_FILES)) {
    await Deno.mkdir(`${root}/data/${name.slice(0, 2)}`, { recursive: true });
    await Deno.copyFile(
      `${FIXTURE}data/${name.slice(0, 2)}/${name}`,
      `${root}/data/${name.slice(0, 2)}/${name}`,
    );
  }
  return root;
}

/** Names of the data files under `root`. */
async function dataFilesUnder(root: string): Promise<string[]> {
  const names: string[] = [];
  for await (const shard of Deno.readDir(`${root}/data`)) {
    for await (const file of Deno.readDir(`${root}/data/${shard.name}`)) names.push(file.name);
  }
  return names.sort();
}

/** The bytes of `name` (a version of it, with `versionId`) retrieved by `client`. */
async function bytesOf(
  client: BackupClient | BackupClientV2,
  name: string,
  versionId?: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const sink = { write: (c: Uint8Array) => (chunks.push(c.slice()), Promise.resolve(c.length)) };
  if (client instanceof BackupClient) await client.retrieve(name, sink);
  else {assert.equal(
      (await client.retrieve(name, sink, { versionId })).size,
      concat(...chunks).length,
    );}
  return concat(...chunks);
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/** What today's code charges a user for these versions: their bytes and each one's charge. */
function chargeOf(versions: Expected[]): number {
  return versions.reduce(
    (sum, v) => sum + v.bytes.length + indexVersionCharge(encoder.encode(v.name).length),
    0,
  );
}

/** Bytes of a user's chunks still referenced, with their overhead: what packs add to usage. */
function blobCharge(root: string, userId: number): number {
  return readIndex(root, (db) =>
    (db.prepare(
      "SELECT coalesce(sum(stored_length + ?), 0) AS bytes FROM blobs WHERE user_id = ? AND refs > 0",
    ).get(BLOB_OVERHEAD_BYTES, userId) as { bytes: number }).bytes);
}

/** `read` on the index of `root`, opened read-only beside the running server. */
function readIndex<T>(root: string, read: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(`${root}/index.sqlite`, { readOnly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The order of names in listings: by their UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  const [x, y] = [encoder.encode(a), encoder.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Version 1 and version 2 clients of the server on `port` (TLS, no users file: any user id). */
async function clientsOf(port: number) {
  const key = await makeKey();
  const options = { hostname: "127.0.0.1", port, tls: true, caCerts: [CA] };
  return {
    v1: (userId: number) => BackupClient.connect({ userId, ...options }),
    v2: (userId: number) => BackupClientV2.connect({ userId, key, ...options }),
  };
}

/**
 * Checks `userId`'s files against `versions` (all of theirs): over v1, the current names and
 * bytes; over v2, every version of every name with its metadata, and its bytes by id.
 */
async function checkEveryVersion(
  v1: (userId: number) => Promise<BackupClient>,
  v2: (userId: number) => Promise<BackupClientV2>,
  userId: number,
  versions: Expected[],
): Promise<void> {
  const current = versions.filter((v) => v.endedMs === null);
  using old = await v1(userId);
  assert.deepEqual((await old.list()).sort(), current.map((v) => v.name).sort());
  for (const version of current) {
    const what = `v1 ${userId}/${version.name.slice(0, 40)}`;
    assert.deepEqual(await bytesOf(old, version.name), version.bytes, what);
  }
  using client = await v2(userId);
  for (const name of new Set(versions.map((v) => v.name))) {
    const listed: VersionInfo[] = await client.versions(name);
    const want = versions.filter((v) => v.name === name);
    assert.deepEqual(
      listed.map((v) => [v.versionId, v.size, v.storedMs, v.endedMs, v.deleted, v.mode]),
      want.map((v) => [v.versionId, v.bytes.length, v.storedMs, v.endedMs, v.deleted, v.mode]),
      name.slice(0, 40),
    );
    for (const [i, version] of want.entries()) {
      assert.equal(toHex(listed[i].sha256), await sha256(version.bytes));
      if (version.mtimeMs !== undefined) assert.equal(listed[i].mtimeMs, version.mtimeMs);
      const what = `v2 ${userId}/${name.slice(0, 40)} #${version.versionId}`;
      assert.deepEqual(await bytesOf(client, name, version.versionId), version.bytes, what);
    }
  }
}

Deno.test("a store written by 9c7e87b opens: every version byte for byte, usage, verify, new uploads, prune", async () => {
  const root = await copyOfFixture();
  const expected = expectedVersions();
  assert.equal(expected.length, 20);
  // The fixture's clock, a minute after its last step: today's would let retention prune its past.
  let now = FIXTURE_BASE_MS + STEPS.length * STEP_MS;
  try {
    await using t = await startTestServer({ root, tls: TLS, now: () => now });
    const schema = readIndex(root, (db) => db.prepare("PRAGMA user_version").get()) as {
      user_version: number;
    };
    assert.ok(schema.user_version >= 5, "upgraded to schema 5 (or later)");
    const { v1, v2 } = await clientsOf(t.port);
    for (const userId of [1, 2, 3]) {
      const mine = expected.filter((v) => v.userId === userId);
      await checkEveryVersion(v1, v2, userId, mine);
      assert.equal(await t.server.storage.usage(userId), chargeOf(mine), `usage of ${userId}`);
    }
    // The tree as it was when big-gone.bin was stored (step 9), with the versions of then.
    using alice = await v2(1);
    const atStep9 = FIXTURE_BASE_MS + 9 * STEP_MS;
    const then = await Array.fromAsync(alice.entries({ atMs: atStep9 }));
    assert.deepEqual(
      then.map((e) => [e.name, e.info.versionId]),
      expected.filter((v) =>
        v.userId === 1 && v.storedMs <= atStep9 && (v.endedMs === null || v.endedMs > atStep9)
      ).sort((a, b) => byteOrder(a.name, b.name)).map((v) => [v.name, v.versionId]),
    );

    const report = await verifyRoot({ root });
    assert.deepEqual(report.problems, []);
    assert.equal(report.versions, expected.length);

    // The bytes of a past data-file version, uploaded again under a new name: stored in packs,
    // both read back, and usage grows by the new version's charge and its chunks.
    const oldDog = expected.find((v) => v.versionId === 3)!;
    const before = await t.server.storage.usage(1);
    await alice.backup("copies/dog-then.jpg", bytesSource(oldDog.bytes), oldDog.bytes.length);
    assert.deepEqual(await bytesOf(alice, "copies/dog-then.jpg"), oldDog.bytes);
    assert.deepEqual(await bytesOf(alice, "photos/dog.jpg", oldDog.versionId), oldDog.bytes);
    const chunks = blobCharge(root, 1);
    assert.ok(chunks > 0, "the new upload is in packs");
    assert.equal(
      await t.server.storage.usage(1),
      before + indexVersionCharge("copies/dog-then.jpg".length) + chunks,
    );

    // Every large file deleted but one; once retention's 30 days have passed, prune removes every
    // past version and every data file but that one's, and the packs' chunks stop being charged.
    for (const name of ["photos/cat.jpg", "photos/dog.jpg", "journal.log", "copies/dog-then.jpg"]) {
      await alice.delete(name);
    }
    using bob = await v2(2);
    await bob.delete("shared.bin");
    using carol = await v1(3);
    await carol.delete("v1-big.bin");
    now += 31 * DAY_MS;
    await t.server.storage.prune();
    await t.server.storage.settled();
    assert.deepEqual(await dataFilesUnder(root), [DATA_FILES[6]]);
    const kept = expected.filter((v) =>
      v.endedMs === null && v.bytes.length <= 65_536 || v.versionId === 6
    );
    for (const userId of [1, 2, 3]) {
      const mine = kept.filter((v) => v.userId === userId);
      assert.equal(
        await t.server.storage.usage(userId),
        chargeOf(mine),
        `usage of ${userId} after prune`,
      );
    }
    assert.deepEqual(
      await bytesOf(alice, LONG_LARGE),
      expected.find((v) => v.versionId === 6)!.bytes,
    );
    const after = await verifyRoot({ root });
    assert.deepEqual(after.problems, []);
    assert.equal(after.versions, kept.length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
