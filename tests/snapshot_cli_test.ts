/**
 * The snapshot commands of the client's command line, run as subprocesses against a real server
 * (in this process, TLS, an account with the workspace's key): backup → snapshots → ls → find →
 * dump → restore → `diff -r`; a second backup sends no data; `latest` and hosts; diff; usage.
 */
import assert from "node:assert/strict";
import { jsonLines } from "./_processes.ts";
import { accountWorkspace, spawnClient } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A small tree with a nested folder, a private folder, a link and an empty file. */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/docs/old`, { recursive: true });
  await Deno.mkdir(`${root}/.ssh`, { mode: 0o700 });
  await Deno.chmod(`${root}/.ssh`, 0o700);
  await Deno.writeTextFile(`${root}/docs/a.txt`, "alpha\n".repeat(1000));
  await Deno.writeTextFile(`${root}/docs/old/b.txt`, "beta\n");
  await Deno.writeTextFile(`${root}/.ssh/id`, "secret\n", { mode: 0o600 });
  await Deno.writeFile(`${root}/empty`, new Uint8Array(0));
  await Deno.symlink("docs/a.txt", `${root}/link`);
}

async function diffR(a: string, b: string): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command("diff", { args: ["-r", "--no-dereference", a, b] })
    .output();
  return { code: output.code, out: new TextDecoder().decode(output.stdout) };
}

Deno.test("backup makes a snapshot that snapshots, ls, find, dump and restore show; diff -r is clean", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/src`;
  await makeTree(src);
  const backup = await a.client("backup", src, "--host=h1", "--tag=t1", "--json");
  assert.equal(backup.code, 0, backup.stderr);
  const result = jsonLines(backup.stdout).find((line) => line.op === "backup" && line.ok)!;
  assert.ok(result, backup.stdout);
  const id = String(result.snapshot);
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(result.files, 4);

  const list = await a.client("snapshots", "--json");
  assert.equal(list.code, 0, list.stderr);
  const snapshots = JSON.parse(list.stdout);
  assert.equal(snapshots.length, 1);
  assert.equal(snapshots[0].id, id);
  assert.deepEqual(snapshots[0].paths, [src]);
  assert.equal(snapshots[0].hostname, "h1");
  assert.deepEqual(snapshots[0].tags, ["t1"]);

  const table = await a.client("snapshots");
  assert.match(table.stdout, new RegExp(`^${id.slice(0, 8)} .* h1 .*t1`, "m"));

  const ls = await a.client("ls", id.slice(0, 8), `${src}/docs`, "-l");
  assert.equal(ls.code, 0, ls.stderr);
  const lines = ls.stdout.trim().split("\n");
  assert.equal(lines.length, 4, ls.stdout); // docs, a.txt, old, old/b.txt
  assert.match(lines[1], /^-rw-r--r-- .* 6000 .*\/docs\/a\.txt$/);

  const find = await a.client("find", "b.txt", "--host=h1");
  assert.equal(find.code, 0, find.stderr);
  assert.match(find.stdout, /\/docs\/old\/b\.txt/);

  const dump = await a.client("dump", "latest", `${src}/docs/old/b.txt`, "--host=h1");
  assert.equal(dump.code, 0, dump.stderr);
  assert.equal(dump.stdout, "beta\n");

  const target = `${a.w.dir}/restored`;
  const restore = await a.client("restore", `latest:${src}`, "--target", target, "--host=h1");
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(await diffR(src, target), { code: 0, out: "" });
  assert.equal((await Deno.stat(`${target}/.ssh`)).mode! & 0o777, 0o700);
  assert.equal(await Deno.readLink(`${target}/link`), "docs/a.txt");
});

Deno.test("a second backup of an unchanged tree sends no data; diff shows what changed", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/src`;
  await makeTree(src);
  const first = jsonLines((await a.client("backup", src, "--host=h1", "--json")).stdout)
    .find((line) => line.op === "backup" && line.ok)!;
  const again = await a.client("backup", src, "--host=h1", "--json");
  assert.equal(again.code, 0, again.stderr);
  const second = jsonLines(again.stdout).find((line) => line.op === "backup" && line.ok)!;
  assert.equal(second.parent, first.snapshot);
  assert.equal(second.filesUnmodified, 4);
  assert.equal(second.bytesAdded, 0);
  // Every folder of the tree is unchanged; only the ancestors' one-entry trees may be sent again,
  // because /tmp (an ancestor) changes whenever anything on the machine makes a temp file.
  assert.ok(Number(second.bytesSent) < 4096, `sent ${second.bytesSent} bytes`);
  const same = await a.client("diff", String(first.snapshot), String(second.snapshot));
  assert.equal(same.code, 0, same.stderr);
  assert.ok(!same.stdout.includes(src), `nothing in the tree differs:\n${same.stdout}`);

  await Deno.writeTextFile(`${src}/docs/new.txt`, "new\n");
  await Deno.remove(`${src}/docs/old`, { recursive: true });
  const third = await a.client("backup", src, "--host=h1", "--json");
  assert.equal(third.code, 0, third.stderr);
  const thirdId = String(
    jsonLines(third.stdout).find((line) => line.op === "backup" && line.ok)!.snapshot,
  );
  const diff = await a.client("diff", String(first.snapshot).slice(0, 10), thirdId);
  assert.equal(diff.code, 0, diff.stderr);
  const changes = diff.stdout.trim().split("\n");
  assert.ok(changes.includes(`+    ${src}/docs/new.txt`), diff.stdout);
  assert.ok(changes.includes(`-    ${src}/docs/old`), diff.stdout);
  assert.ok(changes.includes(`-    ${src}/docs/old/b.txt`), diff.stdout);
  assert.ok(!changes.some((line) => line.includes(".ssh")), "an unchanged folder is not listed");
});

Deno.test("two hosts on one account do not see each other's latest, nor share a parent", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/src`;
  await makeTree(src);
  assert.equal((await a.client("backup", src, "--host=one", "--quiet")).code, 0);
  await Deno.writeTextFile(`${src}/docs/only-two.txt`, "2\n");
  const two = await a.client("backup", src, "--host=two", "--json");
  assert.equal(two.code, 0, two.stderr);
  assert.equal(
    jsonLines(two.stdout).find((line) => line.op === "backup" && line.ok)!.parent,
    undefined,
  );
  const lsOne = await a.client("ls", "latest", "--host=one");
  assert.ok(!lsOne.stdout.includes("only-two.txt"), lsOne.stdout);
  const lsTwo = await a.client("ls", "latest", "--host=two");
  assert.ok(lsTwo.stdout.includes("only-two.txt"), lsTwo.stdout);
  const none = await a.client("ls", "latest", "--host=three");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no snapshot of host three/);
  const hostOne = JSON.parse((await a.client("snapshots", "--host=one", "--json")).stdout);
  assert.equal(hostOne.length, 1);
});

Deno.test("backup --stdin stores standard input as one file that dump gives back", async () => {
  await using a = await accountWorkspace("snapcli-");
  const bytes = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65536));
  }
  const child = spawnClient(a, ["backup", "--stdin", "--stdin-filename=db.sql", "--host=h"]);
  const writer = child.stdin.getWriter();
  await writer.write(bytes);
  await writer.close();
  const done = await child.output();
  assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
  const dump = spawnClient(a, ["dump", "latest", "/db.sql", "--host=h"]);
  await dump.stdin.close();
  const out = await dump.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(out.stdout.length, bytes.length);
  assert.ok(out.stdout.every((byte, i) => byte === bytes[i]), "the same bytes");
});

Deno.test("Ctrl-C during a backup: no snapshot, and what was sent is not sent again", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/big`;
  await Deno.mkdir(src);
  const FILES = 400;
  const SIZE = 256 * 1024;
  const bytes = new Uint8Array(SIZE);
  for (let f = 0; f < FILES; f++) {
    for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    await Deno.writeFile(`${src}/f${String(f).padStart(3, "0")}`, bytes);
  }
  const child = spawnClient(a, ["backup", src, "--host=h", "--json"]);
  await child.stdin.close();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  let signalled = false;
  let done = false;
  while (!done) {
    const chunk = await lines.read();
    done = chunk.done;
    pending += chunk.value ?? "";
    let end;
    while (!signalled && (end = pending.indexOf("\n")) >= 0) {
      const event = JSON.parse(pending.slice(0, end));
      pending = pending.slice(end + 1);
      if (event.type === "progress" && event.bytesSent > 0) {
        child.kill("SIGINT");
        signalled = true;
      }
    }
  }
  const status = await child.status;
  const message = await stderr;
  assert.equal(status.code, 130, message);
  const sent =
    /interrupted: no snapshot made; (\d+\.\d) MiB already on the server will not be sent again/
      .exec(message);
  assert.ok(sent, message);
  assert.equal((await a.client("snapshots", "--json")).stdout.trim(), "[]");
  const again = await a.client("backup", src, "--host=h", "--json");
  assert.equal(again.code, 0, again.stderr);
  const result = jsonLines(again.stdout).find((line) => line.op === "backup" && line.ok)!;
  const total = FILES * SIZE;
  const before = Number(sent[1]) * 1024 * 1024;
  assert.ok(
    Number(result.bytesAdded) <= total - before + 0.1 * 1024 * 1024,
    `sent ${result.bytesAdded} of ${total} after ${before} before the interrupt`,
  );
});

Deno.test("--files keeps per-file backups; snapshot flags and names are checked", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/notes.txt`;
  await Deno.writeTextFile(src, "per-file\n");
  const files = await a.client("backup", src, "--files");
  assert.equal(files.code, 0, files.stderr);
  const list = await a.client("list");
  assert.equal(list.stdout.trim(), "notes.txt");
  assert.equal((await a.client("snapshots", "--json")).stdout.trim(), "[]");
  const usage = await a.client("backup", src, "--files", "--tag=x");
  assert.equal(usage.code, 2);
  const bad = await a.client("ls", "nope");
  assert.equal(bad.code, 2, bad.stderr);
  // --jobs is a per-file flag: with it, backup stores files one by one (never ignored).
  const other = `${a.w.dir}/other.txt`;
  await Deno.writeTextFile(other, "jobs\n");
  const jobs = await a.client("backup", other, "--jobs=2");
  assert.equal(jobs.code, 0, jobs.stderr);
  assert.deepEqual((await a.client("list")).stdout.trim().split("\n"), ["notes.txt", "other.txt"]);
  assert.equal((await a.client("snapshots", "--json")).stdout.trim(), "[]");
  assert.equal((await a.client("restore", "latest", "--target", a.w.dir, "--jobs=2")).code, 2);
  const v1 = await a.client("snapshots", "--v1");
  assert.equal(v1.code, 2);
  assert.match(v1.stderr, /--v1 does not go with snapshots/);
});

Deno.test("a snapshot records this machine's name and who ran it, under the client's own permissions", async () => {
  await using a = await accountWorkspace("snapcli-");
  const src = `${a.w.dir}/src`;
  await makeTree(src);
  const backup = await a.client("backup", src, "--quiet");
  assert.equal(backup.code, 0, backup.stderr);
  const [snapshot] = JSON.parse((await a.client("snapshots", "--json")).stdout);
  const said = async (...args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command(args[0], { args: args.slice(1) }).output()).stdout,
    )
      .trim();
  assert.equal(snapshot.hostname, await said("hostname"));
  assert.equal(snapshot.username, Deno.env.get("USER") || await said("id", "-un"));
});
