import assert from "node:assert/strict";
import { startTestServer } from "./_helpers.ts";
import { clientWorkspace } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A workspace with a key (protocol version 2 on a server without accounts) and a small tree. */
async function workspace() {
  const w = await clientWorkspace("backup-incremental-", { args: ["--user=5"] });
  assert.equal((await w.client("keygen")).code, 0);
  await Deno.mkdir(`${w.dir}/tree/sub`, { recursive: true });
  await Deno.writeTextFile(`${w.dir}/tree/a.txt`, "alpha");
  await Deno.writeTextFile(`${w.dir}/tree/sub/b.txt`, "beta");
  await Deno.writeTextFile(`${w.dir}/tree/sub/c.txt`, "gamma");
  return w;
}

const lastLine = (text: string) => text.trim().split("\n").at(-1);

Deno.test("a second backup sends only what changed; --checksum looks at the bytes", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  const first = await w.client(server, "backup", "--files", "tree");
  assert.equal(first.code, 0, first.stderr);
  assert.equal(lastLine(first.stdout), "uploaded 3, unchanged 0, skipped 0, failed 0");
  const second = await w.client(server, "backup", "--files", "tree");
  assert.equal(lastLine(second.stdout), "uploaded 0, unchanged 3, skipped 0, failed 0");
  await Deno.writeTextFile(`${w.dir}/tree/sub/b.txt`, "BETA!");
  const third = await w.client(server, "backup", "--files", "tree", "--json");
  const lines = third.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => line.name ?? "summary"), ["tree/sub/b.txt", "summary"]);
  assert.deepEqual(lines[1].summary, {
    uploaded: 1,
    unchanged: 2,
    deleted: 0,
    skipped: 0,
    failed: 0,
  });
  // Same bytes, another time: sent again by size and time, not with --checksum.
  await Deno.utime(`${w.dir}/tree/a.txt`, new Date(2020, 0, 1), new Date(2020, 0, 1));
  const checked = await w.client(server, "backup", "--files", "tree", "--checksum", "--dry-run");
  assert.equal(lastLine(checked.stdout), "would upload 0, unchanged 3, skipped 0, failed 0");
  const byTime = await w.client(server, "backup", "--files", "tree", "--dry-run");
  assert.match(byTime.stdout, /would back up tree\/a\.txt as tree\/a\.txt/);
});

Deno.test("restore brings back modes and times; versions, --version and --at restore the past", async () => {
  let now = Date.UTC(2026, 10, 20, 10, 0, 0);
  await using t = await startTestServer({ now: () => now });
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.chmod(`${w.dir}/tree/a.txt`, 0o600);
  const old = new Date(2021, 5, 6, 7, 8, 9);
  await Deno.utime(`${w.dir}/tree/a.txt`, old, old);
  assert.equal((await w.client(server, "backup", "--files", "tree")).code, 0);
  now += 3_600_000;
  await Deno.writeTextFile(`${w.dir}/tree/a.txt`, "alpha, second version");
  await Deno.remove(`${w.dir}/tree/sub/c.txt`);
  assert.equal((await w.client(server, "backup", "--files", "tree")).code, 0);
  assert.equal((await w.client(server, "delete", "tree/sub/c.txt")).code, 0);

  const restored = await w.client(server, "restore", "tree/", "-o", "now");
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/now/a.txt`), "alpha, second version");
  assert.equal(await Deno.stat(`${w.dir}/now/sub/c.txt`).then(() => true, () => false), false);

  const versions = await w.client(server, "versions", "tree/a.txt", "--json");
  const listed = JSON.parse(versions.stdout).versions;
  assert.equal(listed.length, 2);
  const first = await w.client(
    server,
    "restore",
    "tree/a.txt",
    "--version",
    String(listed[0].versionId),
    "-o",
    "first.txt",
  );
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/first.txt`), "alpha");
  const info = await Deno.stat(`${w.dir}/first.txt`);
  assert.equal(info.mode! & 0o777, 0o600, "the mode comes back");
  assert.equal(info.mtime?.getTime(), old.getTime(), "the time comes back");

  const at = new Date(Date.UTC(2026, 10, 20, 10, 30)).toISOString();
  const past = await w.client(server, "restore", "tree/", "--at", at, "-o", "then");
  assert.equal(past.code, 0, past.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/then/a.txt`), "alpha");
  assert.equal(await Deno.readTextFile(`${w.dir}/then/sub/c.txt`), "gamma", "deleted since, back");

  const stdout = await w.client(server, "restore", "tree/sub/b.txt", "-o", "-");
  assert.equal(stdout.stdout, "beta");
});

Deno.test("a file whose name cannot be stored is a warning; the rest goes, exit 4; delete PREFIX/", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.writeTextFile(`${w.dir}/tree/back\\slash.txt`, "refused by the protocol");
  // A FIFO is not a file: skipped, not a failure.
  await new Deno.Command("mkfifo", { args: [`${w.dir}/tree/fifo`] }).output();
  const result = await w.client(server, "backup", "--files", "tree");
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /not backed up: .*back\\slash\.txt: its name cannot be stored/);
  assert.match(result.stderr, /skipped: .*fifo: not a regular file or folder/);
  assert.equal(lastLine(result.stdout), "uploaded 3, unchanged 0, skipped 1 (see above), failed 1");
  const dry = await w.client(server, "delete", "tree/sub/", "--dry-run");
  assert.equal(dry.stdout, "would delete tree/sub/b.txt\nwould delete tree/sub/c.txt\n");
  assert.equal((await w.client(server, "delete", "tree/sub/")).code, 0);
  assert.equal((await w.client(server, "list")).stdout, "tree/a.txt\n");
  const missing = await w.client(server, "backup", "--files", "no-such-folder");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no-such-folder does not exist/);
});

Deno.test("--exclude and --exclude-from leave paths out; --delete mirrors what is gone, not what is left out", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.writeTextFile(`${w.dir}/tree/scratch.tmp`, "junk");
  await Deno.mkdir(`${w.dir}/tree/cache`);
  await Deno.writeTextFile(`${w.dir}/tree/cache/blob`, "cached");
  await Deno.writeTextFile(`${w.dir}/patterns`, "# build output\ncache/\n");
  const first = await w.client(
    server,
    "backup",
    "--files",
    "tree",
    "--exclude",
    "*.tmp",
    "--exclude-from",
    "patterns",
  );
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    (await w.client(server, "list")).stdout,
    "tree/a.txt\ntree/sub/b.txt\ntree/sub/c.txt\n",
  );
  // Now back up everything once, then remove a file locally and mirror with --delete while
  // excluding the cache: the removed file goes (a past version), the excluded one stays.
  assert.equal((await w.client(server, "backup", "--files", "tree")).code, 0);
  await Deno.remove(`${w.dir}/tree/sub/c.txt`);
  const dry = await w.client(
    server,
    "backup",
    "--files",
    "tree",
    "--delete",
    "--exclude",
    "cache",
    "--dry-run",
  );
  assert.match(dry.stdout, /would delete tree\/sub\/c\.txt \(no longer here\)/);
  const mirror = await w.client(
    server,
    "backup",
    "--files",
    "tree",
    "--delete",
    "--exclude",
    "cache",
  );
  assert.equal(mirror.code, 0, mirror.stderr);
  assert.match(mirror.stdout, /deleted tree\/sub\/c\.txt \(no longer here\)/);
  assert.match(mirror.stdout, /uploaded 0, unchanged 3, deleted 1, skipped 0, failed 0/);
  assert.equal(
    (await w.client(server, "list")).stdout,
    "tree/a.txt\ntree/cache/blob\ntree/scratch.tmp\ntree/sub/b.txt\n",
  );
  const versions = await w.client(server, "versions", "tree/sub/c.txt", "--json");
  assert.equal(JSON.parse(versions.stdout).versions[0].deleted, true, "kept as a past version");
});

Deno.test("symbolic links are stored as links and restored as links, never followed", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.symlink("a.txt", `${w.dir}/tree/near`);
  await Deno.symlink("/etc/hostname", `${w.dir}/tree/sub/far`);
  const backup = await w.client(server, "backup", "--files", "tree");
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /backed up tree\/near as tree\/near \(a link\)/);
  assert.equal(lastLine(backup.stdout), "uploaded 5, unchanged 0, skipped 0, failed 0");
  assert.equal(
    lastLine((await w.client(server, "backup", "--files", "tree")).stdout),
    "uploaded 0, unchanged 5, skipped 0, failed 0",
  );
  const restore = await w.client(server, "restore", "tree/", "-o", "back");
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readLink(`${w.dir}/back/near`), "a.txt");
  assert.equal(await Deno.readLink(`${w.dir}/back/sub/far`), "/etc/hostname");
  assert.ok(
    (await Deno.lstat(`${w.dir}/back/sub/far`)).isSymlink,
    "a link, not a copy of its target",
  );
});

Deno.test("two folders of the same name are not merged: refused, --base keeps them apart, --into merges", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  for (const place of ["work", "personal"]) {
    await Deno.mkdir(`${w.dir}/${place}/docs`, { recursive: true });
    await Deno.writeTextFile(`${w.dir}/${place}/docs/${place}.txt`, place);
  }
  assert.equal((await w.client(server, "backup", "--files", "work/docs")).code, 0);
  const merged = await w.client(server, "backup", "--files", "personal/docs");
  assert.equal(merged.code, 2);
  assert.match(merged.stderr, /docs holds the files of .*\/work\/docs; .*pass --into docs/);
  assert.equal((await w.client(server, "list")).stdout, "docs/work.txt\n", "nothing sent");
  const apart = await w.client(
    server,
    "backup",
    "--files",
    "personal/docs",
    "work/docs",
    "--base",
    ".",
  );
  assert.equal(apart.code, 0, apart.stderr);
  const into = await w.client(server, "backup", "--files", "personal/docs", "--into", "docs");
  assert.equal(into.code, 0, into.stderr);
  assert.equal(
    (await w.client(server, "list")).stdout,
    "docs/personal.txt\ndocs/work.txt\npersonal/docs/personal.txt\nwork/docs/work.txt\n",
  );
});

Deno.test("a file that keeps changing while it is read is tried twice, then reported: exit 4", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  const growing = `${w.dir}/tree/growing.log`;
  await Deno.writeFile(growing, new Uint8Array(1024 * 1024));
  // Another process appends to it all the time, as a log being written does.
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const f = Deno.openSync(${JSON.stringify(growing)}, { append: true });
       for (;;) { f.writeSync(new Uint8Array(4096)); await new Promise((r) => setTimeout(r, 1)); }`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const result = await w.client(server, "backup", "--files", "tree", "--jobs", "1");
    assert.equal(result.code, 4, result.stderr);
    assert.match(
      result.stderr,
      /not backed up: .*growing\.log: it changed while it was being read, twice/,
    );
    assert.match(result.stdout, /uploaded 3, unchanged 0, skipped 0, failed 1/);
  } finally {
    writer.kill();
    await writer.status;
  }
});

Deno.test("empty folders are kept (as a marker the lists show as the folder) and restored with their mode", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.mkdir(`${w.dir}/tree/empty/deeper`, { recursive: true });
  await Deno.chmod(`${w.dir}/tree/empty/deeper`, 0o700);
  const backup = await w.client(server, "backup", "--files", "tree");
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(
    backup.stdout,
    /backed up .*tree\/empty\/deeper as tree\/empty\/deeper\/ \(an empty folder\)/,
  );
  assert.match((await w.client(server, "list")).stdout, /^tree\/empty\/deeper\/$/m);
  assert.match(
    (await w.client(server, "backup", "--files", "tree")).stdout,
    /uploaded 0, unchanged 4/,
  );
  const restore = await w.client(server, "restore", "tree/", "-o", "back");
  assert.equal(restore.code, 0, restore.stderr);
  const info = await Deno.stat(`${w.dir}/back/empty/deeper`);
  assert.ok(info.isDirectory);
  assert.equal(info.mode! & 0o777, 0o700);
  assert.deepEqual(
    [...Deno.readDirSync(`${w.dir}/back/empty/deeper`)],
    [],
    "no marker file written",
  );
  // Once the folder holds a file, a mirroring backup drops the marker.
  await Deno.writeTextFile(`${w.dir}/tree/empty/deeper/now.txt`, "x");
  const mirror = await w.client(server, "backup", "--files", "tree", "--delete");
  assert.match(mirror.stdout, /deleted tree\/empty\/deeper\/\.backup-folder \(no longer here\)/);
});

Deno.test("unicode names round trip through backup, list and restore", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.mkdir(`${w.dir}/tree/café`);
  await Deno.writeTextFile(`${w.dir}/tree/café/日本語 ☃.txt`, "snow");
  assert.equal((await w.client(server, "backup", "--files", "tree")).code, 0);
  assert.match(
    (await w.client(server, "list", "tree/café/")).stdout,
    /^tree\/café\/日本語 ☃\.txt$/m,
  );
  const restore = await w.client(server, "restore", "tree/café/", "-o", "back");
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/back/日本語 ☃.txt`), "snow");
});
