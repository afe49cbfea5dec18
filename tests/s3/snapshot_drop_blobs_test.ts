/**
 * DropBlobs (`repair`, docs/keys_plan.md §7) on Swift (`storage/s3/snapshot_drops.ts`): a byte
 * flipped in a stored blob's pack (GET and PUT of the pack object) is found by the server reading
 * the blob again, and only that blob is dropped (a good one named with it stays); another server
 * on the bucket, whose cache knew the blob, then finds it missing, and a commit whose snapshot
 * reaches it through indexed trees answers it missing; the copy a session puts heals it for every
 * snapshot; a sealed blob is dropped as asked; the drop record goes with the bad blob's pack once
 * garbage collection removes it. Through a server on S3: `check --read-data` exits 1, `repair`,
 * `backup`, `check --read-data` exits 0.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "../../common/hex.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { chunkAt, decodeChunkTable } from "../../storage/s3/chunk_list.ts";
import { DeleteRefusedError } from "../../storage/errors.ts";
import {
  type IncomingBlob,
  NoSuchBlobError,
  type SnapshotSession,
} from "../../storage/snapshots.ts";
import { fakeSlot } from "../_key_slots.ts";
import { sealedData, sealedTree } from "../_sealed_blobs.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { clientWorkspace, jsonLines, keyedUsersFile } from "../_processes.ts";
import { startTestServer } from "../_helpers.ts";
import { TLS } from "../_v2.ts";
import { FAST_GC } from "./_gc.ts";
import { keysUnder, openS3, type TestS3 } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const USER = 6;
const BASE = { chunkFiles: true, packTargetBytes: 16 * KiB, blobGraceMs: 1000, gc: FAST_GC };

async function commit(session: SnapshotSession, blobs: IncomingBlob[], label: string) {
  for (const blob of blobs) await session.put(blob);
  const snapshot = snapshotOf(blobs.at(-1)!, label);
  assert.deepEqual(await session.commit(snapshot), { missing: [] });
  await session.close();
  return snapshot.id;
}

/** Where the index objects place the user's blob `id` (its pack relative to `p/USER/`). */
async function placeOf(s3: TestS3, id: Uint8Array) {
  for (const { key } of await keysUnder(s3.client, `${s3.prefix}x/${USER}/snap.`)) {
    const table = decodeChunkTable(
      "blobs",
      new Uint8Array(await (await s3.client.get(key)).arrayBuffer()),
    );
    for (let i = 0; i < table.count; i++) {
      const blob = chunkAt(table, i);
      if (toHex(blob.id) === toHex(id)) return { pack: blob.pack, offset: blob.offset };
    }
  }
  throw new Error(`blob ${toHex(id)} is in no index object`);
}

/** Flips a byte of the user's blob `id` in its pack object (a GET and a PUT of the whole pack). */
async function flip(s3: TestS3, id: Uint8Array): Promise<string> {
  const { pack, offset } = await placeOf(s3, id);
  const key = `${s3.prefix}p/${USER}/${pack}`;
  const bytes = new Uint8Array(await (await s3.client.get(key)).arrayBuffer());
  bytes[offset + 10] ^= 0x01;
  await s3.client.put(key, bytes);
  return `p/${USER}/${pack}`;
}

Deno.test("s3 dropBlobs: only the flipped blob goes; another server finds it missing, a commit reaching it answers it, a copy heals", async () => {
  await using a = await openS3(BASE);
  await using b = await openS3(BASE, a.prefix);
  const good = dataBlob(noise(1, 20 * KiB));
  const bad = dataBlob(noise(2, 20 * KiB));
  const sub = treeBlob([bad.id], "sub");
  const root = treeBlob([good.id, sub.id], "root");
  const first = await commit(a.storage.snapshots!.openSession(USER), [good, bad, sub, root], "1");
  // Server b knows every blob before the drop.
  const before = b.storage.snapshots!.openSession(USER);
  assert.deepEqual(await before.missing([good.id, bad.id]), [false, false]);
  await before.close();
  await flip(a, bad.id);

  const snapshots = a.storage.snapshots!;
  assert.deepEqual(await snapshots.dropBlobs(USER, [good.id, bad.id, bad.id]), [bad.id]);
  assert.deepEqual(await snapshots.dropBlobs(USER, [bad.id]), [], "dropped once");
  assert.equal((await keysUnder(a.client, `${a.prefix}r/${USER}/`)).length, 1, "one drop record");
  await assert.rejects(snapshots.readBlob(USER, bad.id), NoSuchBlobError);

  const session = b.storage.snapshots!.openSession(USER);
  assert.deepEqual(await session.missing([good.id, bad.id, sub.id, root.id]), [
    false,
    true,
    false,
    false,
  ]);
  // The same indexed root, a new record: the commit looks below it and finds the dropped blob.
  const second = snapshotOf(root, "2");
  assert.deepEqual(await session.commit(second), { missing: [bad.id] });
  await session.put(bad);
  assert.deepEqual(await session.commit(second), { missing: [] });
  await session.close();

  const listed = [];
  for await (const snapshot of snapshots.listSnapshots(USER)) listed.push(toHex(snapshot.id));
  assert.deepEqual(listed.sort(), [toHex(first), toHex(second.id)].sort());
  // The copy is read back; the drop record does not drop it (another place).
  const healed = b.storage.snapshots!;
  assert.deepEqual((await healed.readBlob(USER, bad.id)).bytes, bad.bytes);
  assert.deepEqual((await healed.readBlob(USER, good.id)).bytes, good.bytes);
  assert.deepEqual(await healed.dropBlobs(USER, [bad.id]), [], "the copy is good");
  // A third server, cold, skips the dropped place whichever index object it reads first.
  await using c = await openS3(BASE, a.prefix);
  assert.deepEqual((await c.storage.snapshots!.readBlob(USER, bad.id)).bytes, bad.bytes);
  const fresh = c.storage.snapshots!.openSession(USER);
  assert.deepEqual(await fresh.commit(snapshotOf(root, "3")), { missing: [] });
  await fresh.close();
});

Deno.test("s3 dropBlobs: a sealed blob is dropped as asked; refused for an append-only user", async () => {
  await using a = await openS3(BASE);
  const snapshots = a.storage.snapshots!;
  await snapshots.addKeySlot(USER, fakeSlot(1));
  const data = sealedData(3, 8 * KiB);
  const tree = sealedTree([data.id], 4);
  await commit(snapshots.openSession(USER), [data, tree], "sealed");
  assert.deepEqual(await snapshots.dropBlobs(USER, [data.id]), [data.id]);
  const session = snapshots.openSession(USER);
  assert.deepEqual(await session.missing([data.id, tree.id]), [true, false]);
  assert.deepEqual(await session.commit(snapshotOf(tree, "again")), { missing: [data.id] });
  await session.close();

  await using appendOnly = await openS3(
    { ...BASE, appendOnlyOf: (user) => user === USER },
    a.prefix,
  );
  await assert.rejects(
    appendOnly.storage.snapshots!.dropBlobs(USER, [tree.id]),
    DeleteRefusedError,
  );
});

Deno.test("s3 dropBlobs: garbage collection removes the bad blob's pack, then its drop record", async () => {
  await using a = await openS3(BASE);
  const snapshots = a.storage.snapshots!;
  const bad = dataBlob(noise(5, 20 * KiB));
  const root = treeBlob([bad.id], "r");
  await commit(snapshots.openSession(USER), [bad, root], "1");
  const pack = await flip(a, bad.id);
  assert.deepEqual(await snapshots.dropBlobs(USER, [bad.id]), [bad.id]);
  const session = snapshots.openSession(USER);
  assert.deepEqual(await session.commit(snapshotOf(root, "2")), { missing: [bad.id] });
  await session.put(bad);
  assert.deepEqual(await session.commit(snapshotOf(root, "2")), { missing: [] });
  await session.close();
  const gone = async (key: string) => (await keysUnder(a.client, `${a.prefix}${key}`)).length === 0;
  const deadline = Date.now() + 60_000;
  // The bad pack (its own: packs of 16 KiB) is doomed by one run and deleted by a run G later.
  while (!(await gone(pack) && await gone(`r/${USER}/`)) && Date.now() < deadline) {
    await a.storage.prune();
  }
  assert.ok(await gone(pack), "the bad blob's pack went");
  assert.ok(await gone(`r/${USER}/`), "its drop record went after it");
  assert.deepEqual((await snapshots.readBlob(USER, bad.id)).bytes, bad.bytes);
});

Deno.test("s3 repair through a server: check --read-data exits 1, repair, backup, check exits 0", async () => {
  await using w = await clientWorkspace("s3repair-", { below: "work" });
  const usersFile = await keyedUsersFile(w, USER);
  const prefix = freshPrefix();
  const bucket = new S3Client(testLocation());
  try {
    await using server = await startTestServer({
      tls: TLS,
      access: { usersFile },
      s3: { location: testLocation(), prefix, serverTag: "a", chunkFiles: true },
    });
    const client = (...args: string[]) =>
      w.client(
        `--server=127.0.0.1:${server.port}`,
        `--user=${USER}`,
        `--ca=${TLS.certFile}`,
        ...args,
      );
    const src = `${w.dir}/src`;
    await Deno.mkdir(`${src}/docs`, { recursive: true });
    const random = crypto.getRandomValues(new Uint8Array(64 * KiB));
    await Deno.writeFile(`${src}/rand.bin`, random);
    await Deno.writeTextFile(`${src}/docs/a.txt`, "alpha\n".repeat(1000));
    const backup = async () => {
      const run = await client("backup", src, "--host=h1", "--json");
      assert.equal(run.code, 0, run.stderr);
      return String(jsonLines(run.stdout).find((l) => l.op === "backup" && l.ok)!.snapshot);
    };
    const check = async () => {
      const run = await client("check", "--read-data", "--json");
      return {
        code: run.code,
        named: jsonLines(run.stdout).filter((l) => l.path !== undefined).map((l) => l.path),
      };
    };
    const first = await backup();
    const blob = new Uint8Array(createHash("sha256").update(random).digest());
    await flip({ client: bucket, prefix } as TestS3, blob);
    assert.deepEqual(await check(), { code: 1, named: [`${src}/rand.bin`] });
    const repair = await client("repair");
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /the server dropped 1 bad blob; run backup of the named files/);
    const second = await backup();
    assert.notEqual(second, first);
    assert.deepEqual(await check(), { code: 0, named: [] });
    for (const [i, id] of [first, second].entries()) {
      const target = `${w.dir}/restored-${i}`;
      const restore = await client("restore", `${id}:${src}`, "--target", target);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(await Deno.readFile(`${target}/rand.bin`), random);
    }
  } finally {
    for await (const page of bucket.list(prefix)) {
      await Promise.all(page.map(({ key }) => bucket.delete(key)));
    }
  }
});
