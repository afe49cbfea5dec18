/**
 * `check` from the client's command line, against a real server (TLS, an account) whose root the
 * test damages: two snapshots sharing a file of random bytes (stored as they are, one chunk); a
 * byte flipped in its pack leaves the structure whole (exit 0) and makes `check --read-data` exit
 * 1 naming exactly the files that hold it, in each snapshot; `--read-data-subset 1/2` and `2/2`
 * together find it; a chunk taken out of the index makes the structure check exit 1, naming the
 * snapshots and paths.
 */
import assert from "node:assert/strict";
import { jsonLines } from "./_processes.ts";
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { ACCOUNT_ID, type AccountWorkspace, accountWorkspace } from "./_cli_account.ts";
import { INDEX_FILE_NAME, REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Two snapshots of `src`: the second adds a copy of `rand.bin` in `dup/`. */
async function twoSnapshots(a: AccountWorkspace) {
  const src = `${a.w.dir}/src`;
  await Deno.mkdir(`${src}/docs`, { recursive: true });
  const random = crypto.getRandomValues(new Uint8Array(64 * 1024)); // one chunk, incompressible
  await Deno.writeFile(`${src}/rand.bin`, random);
  await Deno.writeTextFile(`${src}/docs/a.txt`, "alpha\n".repeat(1000));
  const ids: string[] = [];
  for (const step of [0, 1]) {
    if (step === 1) {
      await Deno.mkdir(`${src}/dup`);
      await Deno.writeFile(`${src}/dup/copy.bin`, random);
    }
    const backup = await a.client("backup", src, "--host=h1", "--json");
    assert.equal(backup.code, 0, backup.stderr);
    ids.push(String(jsonLines(backup.stdout).find((l) => l.op === "backup" && l.ok)!.snapshot));
  }
  const blob = createHash("sha256").update(random).digest();
  return { src, ids, blob, random };
}

/** Runs `check` with `args`; its exit code, the paths it named (snapshot:path) and its summary. */
async function check(a: AccountWorkspace, ...args: string[]) {
  const run = await a.client("check", "--json", ...args);
  const lines = jsonLines(run.stdout);
  const named = lines.filter((l) => l.path !== undefined).map((l) => `${l.snapshot}:${l.path}`);
  const summary = lines.find((l) => l.op === "check" && l.path === undefined)!;
  assert.ok(summary, `no summary: ${run.stdout}\n${run.stderr}`);
  return { code: run.code, named: named.sort(), summary, stderr: run.stderr };
}

/** The pack file and offset of a blob of the account, from the root's index. */
function placement(root: string, id: Uint8Array): { file: string; offset: number; length: number } {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    const row = db.prepare(
      `SELECT b.offset, b.stored_length, p.name FROM blobs AS b JOIN packs AS p USING (pack_no)
         WHERE b.user_id = ? AND b.id = ?`,
    ).get(ACCOUNT_ID, id) as { offset: number; stored_length: number; name: string } | undefined;
    assert.ok(row, "the blob is in the index");
    return {
      file: `${root}/${REPOSITORY_DIR_NAME}/${row.name}`,
      offset: row.offset,
      length: row.stored_length,
    };
  } finally {
    db.close();
  }
}

Deno.test("a flipped byte in a pack: check exits 0, check --read-data exits 1 naming each file that holds it", async () => {
  await using a = await accountWorkspace("snapcheck-");
  const { src, ids, blob, random } = await twoSnapshots(a);
  const clean = await check(a, "--read-data");
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(clean.named, []);
  assert.equal(clean.summary.snapshots, 2);
  assert.equal(clean.summary.errors, 0);
  assert.equal(clean.summary.blobsRead, 2, "rand.bin and a.txt, each once (copy.bin shares one)");
  assert.ok(Number(clean.summary.bytesRead) >= random.length + 6000);

  const at = placement(a.server.root, blob);
  assert.equal(at.length, random.length, "random bytes are stored as they are");
  const stored = await Deno.readFile(at.file);
  assert.deepEqual(stored.subarray(at.offset, at.offset + at.length), random);
  using file = await Deno.open(at.file, { write: true });
  await file.seek(at.offset + 1000, Deno.SeekMode.Start);
  await file.write(new Uint8Array([random[1000] ^ 0x40]));

  const structure = await check(a);
  assert.equal(structure.code, 0, structure.stderr);
  assert.equal(structure.summary.errors, 0, "the server still has every blob");

  const read = await check(a, "--read-data");
  assert.equal(read.code, 1, read.stderr);
  assert.match(read.stderr, /check found errors/);
  assert.equal(read.summary.errors, 1);
  assert.equal(read.summary.ok, false);
  assert.deepEqual(
    read.named,
    [
      `${ids[0]}:${src}/rand.bin`,
      `${ids[1]}:${src}/dup/copy.bin`,
      `${ids[1]}:${src}/rand.bin`,
    ].sort(),
  );
  const human = await a.client("check", "--read-data");
  assert.equal(human.code, 1);
  assert.ok(human.stdout.includes(`snapshot ${ids[1].slice(0, 8)}: ${src}/dup/copy.bin: `));
  assert.match(human.stdout, /do not match the id/);

  const halves = [
    await check(a, "--read-data-subset", "1/2"),
    await check(a, "--read-data-subset=2/2"),
  ];
  assert.equal(
    halves.reduce((n, half) => n + Number(half.summary.blobsRead) + Number(half.summary.errors), 0),
    2,
    "the two halves read each of the two data blobs once",
  );
  assert.deepEqual(halves.map((h) => h.code).sort(), [0, 1]);
  assert.deepEqual(halves.flatMap((h) => h.named).sort(), read.named);
});

Deno.test("a chunk taken out of the index: the structure check exits 1 naming the snapshots and paths", async () => {
  await using a = await accountWorkspace("snapcheck-");
  const { src, ids, blob } = await twoSnapshots(a);
  const db = new DatabaseSync(`${a.server.root}/${INDEX_FILE_NAME}`);
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    const removed = db.prepare("DELETE FROM blobs WHERE user_id = ? AND id = ?").run(
      ACCOUNT_ID,
      blob,
    );
    assert.equal(removed.changes, 1);
  } finally {
    db.close();
  }
  const structure = await check(a);
  assert.equal(structure.code, 1, structure.stderr);
  assert.equal(structure.summary.errors, 1);
  assert.equal(structure.summary.damagedSnapshots, 2);
  assert.deepEqual(
    structure.named,
    [
      `${ids[0]}:${src}/rand.bin`,
      `${ids[1]}:${src}/dup/copy.bin`,
      `${ids[1]}:${src}/rand.bin`,
    ].sort(),
  );
  const human = await a.client("check");
  assert.equal(human.code, 1);
  assert.match(
    human.stdout,
    new RegExp(`^snapshot ${ids[0].slice(0, 8)}: .*/rand\\.bin: .*no such blob`, "m"),
  );
  assert.match(human.stdout, /1 bad blob, 3 paths in 2 snapshots need it/);
});

Deno.test("check takes no operands and one read-data flag; a subset must be n/t or N%", async () => {
  await using a = await accountWorkspace("snapcheck-");
  for (
    const args of [
      ["check", "x"],
      ["check", "--read-data", "--read-data-subset=1/2"],
      ["check", "--read-data-subset=3/2"],
      ["check", "--read-data-subset=0%"],
      ["ls", "latest", "--read-data"],
    ]
  ) {
    const run = await a.client(...args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
  }
  const empty = await a.client("check");
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /^0 snapshots, 0 trees, 0 data blobs checked: no errors$/m);
});
