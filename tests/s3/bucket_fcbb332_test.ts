/**
 * A bucket written by fcbb332 (whole files: inline `f` records and data objects under `d/`, before
 * compression and chunks) opens with today's code: every version, current and past, reads back
 * byte for byte with its metadata, a prune inside retention removes nothing, usage is what today's
 * code charges, a name replaced today keeps its old versions readable, and once retention lets
 * them go, prune removes their records and data objects.
 */
import assert from "node:assert/strict";
import { zstdDecompressSync } from "node:zlib";
import { recordChargeOf } from "../../storage/s3/quota.ts";
import { allOf, keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";

const FIXTURE = new URL("../fixtures/bucket-fcbb332/bucket.bin.zst", import.meta.url);
/** The clock of `make_bucket.ts.txt`: step `i` ran at `FIXTURE_BASE_MS + i * STEP_MS`. */
const FIXTURE_BASE_MS = 1_768_000_000_000;
const STEP_MS = 60_000;
const DAY_MS = 86_400_000;
const MiB = 1024 * 1024;
const LONG = `long/${"n".repeat(200)}/${"o".repeat(200)}`;

/** The bytes `make_bucket.ts.txt` wrote for `name` in `round` (the same formula). */
function content(name: string, size: number, round: number): Uint8Array<ArrayBuffer> {
  let seed = round * 131;
  for (const char of name) seed = (seed * 31 + char.codePointAt(0)!) >>> 0;
  return Uint8Array.from(
    { length: size },
    (_, i) => (seed + (i % 4096) * 7 + ((i % 4096) >> 8)) & 0xff,
  );
}

/** The steps of `make_bucket.ts.txt`, in its order: [kind, user, name, size, round, mode]. */
type Step =
  | ["put", number, string, number, number, number | null]
  | ["delete", number, string];
const STEPS: Step[] = [
  ["put", 1, "notes.txt", 100, 0, 0o644],
  ["put", 1, "empty", 0, 0, null],
  ["put", 1, LONG, 10, 0, 0o644],
  ["put", 1, "grüße/ünïcode.txt", 500, 0, 0o644],
  ["put", 1, "photos/cat.jpg", 150_000, 0, 0o600],
  ["put", 1, "disk.img", 9 * MiB + 12_345, 0, 0o600],
  ["put", 1, "gone.txt", 42, 0, 0o644],
  ["put", 1, "big-gone.bin", 8 * MiB + 1, 0, 0o644],
  ["put", 1, "notes.txt", 150, 1, 0o644],
  ["put", 1, "disk.img", 9 * MiB + 12_345, 1, 0o600],
  ["delete", 1, "gone.txt"],
  ["delete", 1, "big-gone.bin"],
  ["put", 1, "again.txt", 20, 0, 0o644],
  ["delete", 1, "again.txt"],
  ["put", 1, "again.txt", 30, 1, 0o644],
  ["put", 2, "other-user.txt", 1234, 0, 0o600],
  ["put", 3, "v1.txt", 77, 0, null],
];

/** A version as the steps made it. */
interface Expected {
  userId: number;
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
  storedMs: number;
  endedMs: number | null;
  deleted: boolean;
  mtimeMs: number | undefined; // v1 uploads (user 3) send none
  mode: number | null;
}

/** Replays the steps: every version with its times and end, and the records (deletions too). */
function expectedVersions(): { versions: Expected[]; records: Map<string, number> } {
  const versions: Expected[] = [];
  const records = new Map<string, number>();
  for (const [index, step] of STEPS.entries()) {
    const at = FIXTURE_BASE_MS + index * STEP_MS;
    const key = `${step[1]}/${step[2]}`;
    records.set(key, (records.get(key) ?? 0) + 1);
    const ended = versions.find((v) =>
      v.userId === step[1] && v.name === step[2] && v.endedMs === null
    );
    if (ended) ended.endedMs = at;
    if (step[0] === "delete") {
      ended!.deleted = true;
      continue;
    }
    const [, userId, name, size, round, mode] = step;
    versions.push({
      userId,
      name,
      bytes: content(name, size, round),
      storedMs: at,
      endedMs: null,
      deleted: false,
      mtimeMs: userId === 3 ? undefined : FIXTURE_BASE_MS - (index + 1) * DAY_MS,
      mode,
    });
  }
  return { versions, records };
}

/** The fixture's objects: keys relative to the prefix, and bodies. */
function fixtureObjects(): { key: string; body: Uint8Array }[] {
  const all = zstdDecompressSync(Deno.readFileSync(FIXTURE), { maxOutputLength: 64 * MiB });
  const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const objects: { key: string; body: Uint8Array }[] = [];
  for (let at = 0; at < all.length;) {
    const keyLength = view.getUint32(at);
    const key = new TextDecoder().decode(all.subarray(at + 4, at + 4 + keyLength));
    at += 4 + keyLength;
    const bodyLength = view.getUint32(at);
    objects.push({ key, body: all.subarray(at + 4, at + 4 + bodyLength) });
    at += 4 + bodyLength;
  }
  return objects;
}

/** What today's code charges `userId` for the records the steps made and the bytes they hold. */
function chargeOf(userId: number, versions: Expected[], records: Map<string, number>): number {
  let bytes = versions.filter((v) => v.userId === userId).reduce((n, v) => n + v.bytes.length, 0);
  for (const [key, count] of records) {
    const [user, ...name] = key.split("/");
    if (Number(user) === userId) bytes += count * recordChargeOf(name.join("/"));
  }
  return bytes;
}

Deno.test("a bucket written by fcbb332 opens: every version byte for byte, usage, a replace, prune", async () => {
  const { versions: expected, records } = expectedVersions();
  const objects = fixtureObjects();
  assert.equal(objects.length, 20);
  // A minute after the fixture's last step; moved past retention at the end.
  let now = FIXTURE_BASE_MS + STEPS.length * STEP_MS;
  await using s3 = await openS3({ now: () => now });
  await Promise.all(objects.map(({ key, body }) => s3.client.put(`${s3.prefix}${key}`, body)));
  const { storage } = s3;

  assert.equal(await storage.prune(), 0, "nothing is past retention yet");
  assert.equal((await keysUnder(s3.client, s3.prefix)).length, 20, "prune removed nothing");

  for (const userId of [1, 2, 3]) {
    const mine = expected.filter((v) => v.userId === userId);
    using listing = await storage.list(userId);
    let text = "";
    for await (const page of listing.pages) text += new TextDecoder().decode(page);
    const names = text.split("\n").slice(0, -1);
    assert.deepEqual(
      names.sort(),
      mine.filter((v) => v.endedMs === null).map((v) => v.name).sort(),
      `current names of ${userId}`,
    );
    for (const name of new Set(mine.map((v) => v.name))) {
      const want = mine.filter((v) => v.name === name);
      const listed = await allOf(storage.versions(userId, name));
      const what = `${userId}/${name.slice(0, 30)}`;
      assert.deepEqual(
        listed.map((v) => [v.size, v.storedMs, v.endedMs, v.deleted, v.mode]),
        want.map((v) => [v.bytes.length, v.storedMs, v.endedMs, v.deleted, v.mode]),
        what,
      );
      for (const [i, version] of want.entries()) {
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", version.bytes));
        assert.deepEqual(listed[i].sha256, digest, what);
        if (version.mtimeMs !== undefined) assert.equal(listed[i].mtimeMs, version.mtimeMs, what);
        assert.deepEqual(
          await readWhole(storage, userId, name, listed[i].versionId),
          version.bytes,
          `${what} #${i}`,
        );
      }
    }
    assert.equal(
      await storage.usage(userId),
      chargeOf(userId, expected, records),
      `usage ${userId}`,
    );
  }

  // disk.img replaced with today's code: its two past versions (data objects) stay readable.
  const fresh = content("disk.img", 9 * MiB + 12_345, 2);
  await store(storage, 1, "disk.img", fresh);
  assert.deepEqual(await readWhole(storage, 1, "disk.img"), fresh);
  const disk = await allOf(storage.versions(1, "disk.img"));
  assert.equal(disk.length, 3);
  for (const [i, version] of disk.slice(0, 2).entries()) {
    assert.deepEqual(
      await readWhole(storage, 1, "disk.img", version.versionId),
      content("disk.img", 9 * MiB + 12_345, i),
    );
  }

  // Past retention's 30 days: every past version goes, with every data object (the current
  // disk.img is today's, in whatever form today's code stored it), and usage is what the records left hold plus their charges.
  now += 31 * DAY_MS;
  assert.ok(await storage.prune() > 0);
  await storage.settled();
  const fixtureData = objects.filter(({ key }) => key.startsWith("d/")).map(({ key }) => key);
  const dataLeft = (await keysUnder(s3.client, `${s3.prefix}d/`)).map(({ key }) => key);
  assert.equal(fixtureData.length, 3);
  assert.deepEqual(dataLeft.filter((key) => fixtureData.includes(key.slice(s3.prefix.length))), []);
  const current = expected.filter((v) => v.endedMs === null && v.name !== "disk.img");
  for (const version of current) {
    assert.deepEqual(await readWhole(storage, version.userId, version.name), version.bytes);
  }
  assert.deepEqual(await readWhole(storage, 1, "disk.img"), fresh);
  for (const userId of [1, 2, 3]) {
    const left = await keysUnder(s3.client, `${s3.prefix}u/${userId}/`);
    const names = current.filter((v) => v.userId === userId).map((v) => v.name);
    if (userId === 1) names.push("disk.img");
    assert.equal(left.length, names.length, `one record per current file of ${userId}`);
    const charges = names.reduce((n, name) => n + recordChargeOf(name), 0);
    // What the user's records, data objects and packs hold: the bytes usage counts.
    let heldBytes = 0;
    for (const kind of ["u", "d", "p"]) {
      const keys = await keysUnder(s3.client, `${s3.prefix}${kind}/${userId}/`);
      heldBytes += keys.reduce((n, { size }) => n + size, 0);
    }
    assert.equal(await storage.usage(userId), heldBytes + charges, `usage ${userId} after prune`);
  }
});
