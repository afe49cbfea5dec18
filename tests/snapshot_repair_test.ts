/**
 * `repair` from the client's command line against a real server (TLS, an account, the embedded
 * store) whose root the test damages (issue 23's "done means"): a byte flipped in a stored chunk
 * makes `check --read-data` exit 1 naming the file; `repair` has the server drop it; the next
 * `backup` of the same tree (its files unchanged, taken from the parent unread) is told the chunk
 * is missing at its commit and sends it again; `check --read-data` then exits 0 and both snapshots
 * restore the right bytes. The server drops only blobs whose bytes really are bad, and refuses an
 * append-only account.
 */
import assert from "node:assert/strict";
import { jsonLines } from "./_processes.ts";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { ACCOUNT_ID, type AccountWorkspace, accountWorkspace } from "./_cli_account.ts";
import { INDEX_FILE_NAME, REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A tree with one chunk of random bytes (stored as they are) and a text file, backed up once. */
async function oneSnapshot(a: AccountWorkspace) {
  const src = `${a.w.dir}/src`;
  await Deno.mkdir(`${src}/docs`, { recursive: true });
  const random = crypto.getRandomValues(new Uint8Array(64 * 1024));
  await Deno.writeFile(`${src}/rand.bin`, random);
  await Deno.writeTextFile(`${src}/docs/a.txt`, "alpha\n".repeat(1000));
  const id = await backup(a, src);
  return { src, id, random, blob: createHash("sha256").update(random).digest() };
}

async function backup(a: AccountWorkspace, src: string): Promise<string> {
  const run = await a.client("backup", src, "--host=h1", "--json");
  assert.equal(run.code, 0, run.stderr);
  return String(jsonLines(run.stdout).find((l) => l.op === "backup" && l.ok)!.snapshot);
}

/** Flips one byte of the account's blob `id` in its pack file. */
async function flipByte(root: string, id: Uint8Array, at: number): Promise<void> {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  let row;
  try {
    row = db.prepare(
      `SELECT b.offset, p.name FROM blobs AS b JOIN packs AS p USING (pack_no)
         WHERE b.user_id = ? AND b.id = ?`,
    ).get(ACCOUNT_ID, id) as { offset: number; name: string } | undefined;
  } finally {
    db.close();
  }
  assert.ok(row, "the blob is in the index");
  using file = await Deno.open(`${root}/${REPOSITORY_DIR_NAME}/${row.name}`, {
    read: true,
    write: true,
  });
  const byte = new Uint8Array(1);
  await file.seek(row.offset + at, Deno.SeekMode.Start);
  await file.read(byte);
  await file.seek(row.offset + at, Deno.SeekMode.Start);
  await file.write(new Uint8Array([byte[0] ^ 0x40]));
}

/** The account's `blob_bytes`, and what its blobs and packs' dead bytes add up to. */
function blobCharges(root: string): [number, number] {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    const user = db.prepare("SELECT blob_bytes FROM users WHERE user_id = ?").get(ACCOUNT_ID) as {
      blob_bytes: number;
    };
    const blobs = db.prepare(
      `SELECT coalesce(sum(stored_length + ?), 0) AS n FROM blobs
         WHERE user_id = ? AND (refs > 0 OR unclaimed_ms IS NOT NULL)`,
    ).get(BLOB_OVERHEAD_BYTES, ACCOUNT_ID) as { n: number };
    const dropped = db.prepare(
      "SELECT coalesce(sum(dropped_bytes), 0) AS n FROM packs WHERE user_id = ?",
    ).get(ACCOUNT_ID) as { n: number };
    return [user.blob_bytes, blobs.n + dropped.n];
  } finally {
    db.close();
  }
}

async function check(a: AccountWorkspace) {
  const run = await a.client("check", "--read-data", "--json");
  const named = jsonLines(run.stdout).filter((l) => l.path !== undefined).map((l) => l.path);
  return { code: run.code, named, stderr: run.stderr };
}

Deno.test("a flipped byte: check --read-data exits 1 naming the file; repair; backup; check exits 0 and restores are right", async () => {
  await using a = await accountWorkspace("snaprepair-");
  const { src, id: first, random, blob } = await oneSnapshot(a);
  await flipByte(a.server.root, blob, 1000);

  const damaged = await check(a);
  assert.equal(damaged.code, 1, damaged.stderr);
  assert.deepEqual(damaged.named, [`${src}/rand.bin`]);

  const repair = await a.client("repair");
  assert.equal(repair.code, 0, repair.stderr);
  assert.match(repair.stdout, new RegExp(`: ${src}/rand\\.bin: `));
  assert.match(
    repair.stdout,
    /the server dropped 1 bad blob; run backup of the named files to heal/,
  );
  const missing = await a.client("check");
  assert.equal(missing.code, 1, "the server lacks the chunk now: the structure check says so");
  const waiting = await verifyRoot({ root: a.server.root, data: "all" });
  assert.deepEqual(
    waiting.problems.map((p) => p.kind),
    ["dropped-blob"],
    "the server's verify says what repair did, not that its index is broken",
  );

  const second = await backup(a, src);
  assert.notEqual(second, first);
  const healed = await check(a);
  assert.equal(healed.code, 0, healed.stderr);
  assert.deepEqual(healed.named, []);

  for (const [i, id] of [first, second].entries()) {
    const target = `${a.w.dir}/restored-${i}`;
    const restore = await a.client("restore", `${id}:${src}`, "--target", target);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await Deno.readFile(`${target}/rand.bin`), random);
    assert.equal(await Deno.readTextFile(`${target}/docs/a.txt`), "alpha\n".repeat(1000));
  }
  const report = await verifyRoot({ root: a.server.root, data: "all" });
  assert.deepEqual(report.problems, [], "the server's verify finds its counts right");
  const [charged, recounted] = blobCharges(a.server.root);
  assert.equal(charged, recounted, "the user's blob bytes are what its blobs add up to");
  const again = await a.client("repair", "--json");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(jsonLines(again.stdout).find((l) => l.op === "repair")?.dropped, []);
});

Deno.test("the server drops only blobs whose bytes are bad: good ones and unknown ids stay; append-only is refused", async () => {
  await using a = await accountWorkspace("snaprepair-");
  const { blob, random } = await oneSnapshot(a);
  const store = a.server.server.storage.snapshots!;
  const unknown = new Uint8Array(32).fill(0xaa);
  assert.deepEqual(await store.dropBlobs(ACCOUNT_ID, [blob, unknown]), []);
  const stored = await store.readBlob(ACCOUNT_ID, blob);
  assert.deepEqual(stored.bytes, random, "a good blob stays");

  const usersFile = `${a.w.dir}/users.json`;
  const users = JSON.parse(await Deno.readTextFile(usersFile));
  users.users[0].appendOnly = true;
  await Deno.writeTextFile(usersFile, JSON.stringify(users));
  assert.deepEqual((await a.server.server.reload()).errors, []);
  await flipByte(a.server.root, blob, 5);
  const refused = await a.client("repair");
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /append-only/);
  assert.ok((await store.readBlob(ACCOUNT_ID, blob)).bytes.length > 0, "nothing dropped");
});
