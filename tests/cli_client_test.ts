import assert from "node:assert/strict";
import { PROJECT_DIR, startTestServer } from "./_helpers.ts";
import { clientWorkspace, freePort, runCli } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A temp working folder with its own config home (where the user id is kept). */
const workspace = () => clientWorkspace("backup-client-test-");

Deno.test("client CLI: backup, list, restore, delete, with human output and exit 0", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.writeTextFile(`${w.dir}/a.txt`, "alpha");
  await Deno.mkdir(`${w.dir}/sub`);
  await Deno.writeTextFile(`${w.dir}/sub/b.txt`, "beta");

  const backup = await w.client("backup", "a.txt", "sub/b.txt", server);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(
    backup.stdout,
    /^backed up a\.txt as a\.txt \(5 B\)\nbacked up sub\/b\.txt as b\.txt/,
  );

  const renamed = await w.client("backup", "a.txt", "--as", "docs/alpha.txt", server);
  assert.equal(renamed.code, 0, renamed.stderr);

  const list = await w.client("list", server);
  assert.equal(list.code, 0);
  assert.equal(list.stdout, "a.txt\nb.txt\ndocs/alpha.txt\n");

  const restore = await w.client("restore", "docs/alpha.txt", "-o", "restored.txt", server);
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/restored.txt`), "alpha");
  const again = await w.client("restore", "docs/alpha.txt", "-o", "restored.txt", server);
  assert.equal(again.code, 2, "an existing file is not replaced without --force");
  assert.match(again.stderr, /restored\.txt exists: pass --force/);
  const forced = await w.client("restore", "a.txt", "-o", "restored.txt", "--force", server);
  assert.equal(forced.code, 0);

  const removed = await w.client("delete", "b.txt", server);
  assert.equal(removed.code, 0);
  assert.equal(removed.stdout, "deleted b.txt\n");
  assert.equal((await w.client("list", server)).stdout, "a.txt\ndocs/alpha.txt\n");
});

Deno.test("client CLI: exit 1 for an error status, 2 for usage, 3 for no server", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  const missing = await w.client("restore", "nope", server);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr.trim().split("\n").at(-1),
    "backup-client: file does not exist: nope",
  );
  assert.equal((await w.client("delete", "nope", server)).code, 1);
  for (
    const args of [
      ["frobnicate"],
      [],
      ["list", "--bogus"],
      ["restore"],
      ["backup", "no-such-file.txt", server],
      ["delete", "../escape", server],
      ["list", "--user", "4294967296"],
      ["list", "--server", "nohostport"],
    ]
  ) {
    const result = await w.client(...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr.trim().split("\n").at(-1)!, /^backup-client: /);
  }
  const down = await w.client("list", `--server=127.0.0.1:${freePort()}`);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /connection problem: .*refused/i);
});

Deno.test("client CLI: a stable user id is made once, kept, shown, and --user overrides it", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.writeTextFile(`${w.dir}/f`, "mine");
  const first = await w.client("backup", "f", server);
  const idPath = `${w.dir}/config/backup-client/user-id`;
  const userId = (await Deno.readTextFile(idPath)).trim();
  assert.match(userId, /^\d+$/);
  assert.ok(first.stderr.includes(`new user id ${userId}, kept in ${idPath}`), first.stderr);
  const second = await w.client("list", server);
  assert.equal(second.stdout, "f\n");
  assert.ok(second.stderr.includes(`user ${userId} at`));
  assert.ok(!second.stderr.includes("new user id"));
  const other = await w.client("list", server, "--user", "12345", "--json");
  assert.deepEqual(JSON.parse(other.stdout), { ok: true, op: "list", user: 12345, files: [] });
});

Deno.test("client CLI: --json gives one object per result, errors included", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.writeTextFile(`${w.dir}/j.txt`, "json");
  const backup = await w.client("backup", "j.txt", server, "--user=9", "--json");
  const [stored, summary] = backup.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(stored, {
    ok: true,
    op: "backup",
    user: 9,
    file: "j.txt",
    name: "j.txt",
    size: 4,
  });
  assert.deepEqual(summary, {
    ok: true,
    op: "backup",
    user: 9,
    summary: { uploaded: 1, unchanged: 0, deleted: 0, skipped: 0, failed: 0 },
  });
  assert.equal(backup.stderr, "", "no notes on stderr in JSON mode");
  const failed = await w.client("restore", "gone", server, "--user=9", "--json");
  assert.equal(failed.code, 1);
  assert.deepEqual(JSON.parse(failed.stdout), {
    ok: false,
    exitCode: 1,
    error: "file does not exist: gone",
  });
});

Deno.test("client CLI: server.info names the server when --server is absent", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  await Deno.writeTextFile(`${w.dir}/server.info`, `127.0.0.1:${t.port}\n`);
  const result = await w.client("list", "--user=3");
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stderr.includes(`user 3 at 127.0.0.1:${t.port}`));
  // `deno task client -- list` passes the "--" through; it is dropped.
  const viaTask = await w.client("--", "list", "--user=3");
  assert.equal(viaTask.code, 0, viaTask.stderr);
});

Deno.test("client CLI: run replays the original client's session", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  await Deno.writeTextFile(`${w.dir}/server.info`, `127.0.0.1:${t.port}\n`);
  await Deno.writeTextFile(`${w.dir}/backup.info`, "first.txt\nsecond.bin\n");
  await Deno.writeTextFile(`${w.dir}/first.txt`, "the first file");
  await Deno.writeFile(`${w.dir}/second.bin`, crypto.getRandomValues(new Uint8Array(65_536)));
  const result = await w.client("run", "--user=31");
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.deepEqual(lines.map((line) => line.replace(/ to \/[^:]+:/, " to TMP:")), [
    "ok  list: 1002 (no files)",
    "ok  backup first.txt: 212",
    "ok  backup second.bin: 212",
    "ok  list: 211 (first.txt, second.bin)",
    "ok  restore first.txt to TMP: 210 (same bytes)",
    "ok  delete first.txt: 212",
    "ok  restore first.txt again: 1001 (file does not exist, as expected)",
  ]);
  await Deno.mkdir(`${w.dir}/empty`);
  const noList = await runCli("client.ts", ["run", "--user=31"], {
    ...w.options,
    cwd: `${w.dir}/empty`,
  });
  assert.equal(noList.code, 2);
  assert.match(noList.stderr, /run needs \.\/backup\.info/);
});

Deno.test("client CLI: --help for the program and for every command, with examples", async () => {
  const help = await runCli("client.ts", ["--help"]);
  assert.equal(help.code, 0);
  for (
    const word of [
      "backup PATH",
      "restore NAME",
      "delete NAME",
      "list [PREFIX]",
      "run",
      "Examples:",
    ]
  ) {
    assert.ok(help.stdout.includes(word), word);
  }
  for (const command of ["backup", "restore", "delete", "list", "versions", "keygen", "run"]) {
    const own = await runCli("client.ts", [command, "--help"]);
    assert.equal(own.code, 0);
    assert.ok(own.stdout.startsWith(`Usage: backup-client ${command}`), own.stdout);
    assert.ok(own.stdout.includes("Exit codes:"));
  }
});

Deno.test("client CLI: a folder is backed up whole, listed by prefix, restored as a folder", async () => {
  await using t = await startTestServer();
  await using w = await workspace();
  const server = `--server=127.0.0.1:${t.port}`;
  await Deno.mkdir(`${w.dir}/photos/2024`, { recursive: true });
  await Deno.writeTextFile(`${w.dir}/photos/a.jpg`, "A");
  await Deno.writeTextFile(`${w.dir}/photos/2024/b.jpg`, "B");
  await Deno.writeTextFile(`${w.dir}/other.txt`, "other");
  await Deno.symlink("/etc/hostname", `${w.dir}/photos/link`);
  const backup = await w.client("backup", "photos/", "other.txt", server, "--user=4");
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(
    (await w.client("list", server, "--user=4")).stdout,
    "other.txt\nphotos/2024/b.jpg\nphotos/a.jpg\n",
  );
  assert.equal(
    (await w.client("list", "photos/2024", server, "--user=4")).stdout,
    "photos/2024/b.jpg\n",
  );
  const restored = await w.client("restore", "photos", "-o", "back", server, "--user=4");
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/back/a.jpg`), "A");
  assert.equal(await Deno.readTextFile(`${w.dir}/back/2024/b.jpg`), "B");
  const again = await w.client("restore", "photos/", "-o", "back", server, "--user=4");
  assert.equal(again.code, 2, "existing files are not replaced without --force");
  const renamed = await w.client("backup", "photos", "--as", "pics", server, "--user=5");
  assert.equal(renamed.code, 0);
  assert.equal(
    (await w.client("list", server, "--user=5")).stdout,
    "pics/2024/b.jpg\npics/a.jpg\n",
  );
  const missing = await w.client("restore", "nothing/", server, "--user=5");
  assert.equal(missing.code, 1);
});

Deno.test({
  name:
    "client CLI: a progress line on a terminal for transfers over 1 MiB, none when piped or quiet",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using t = await startTestServer();
    await using w = await workspace();
    await Deno.writeFile(`${w.dir}/big.bin`, new Uint8Array(3 * 1024 * 1024));
    const deno = Deno.execPath();
    const command = (quiet: boolean) =>
      `${deno} run --quiet -A ${PROJECT_DIR}/client.ts backup big.bin --user=6 ` +
      `--server=127.0.0.1:${t.port}${quiet ? " --quiet" : ""}`;
    // `script` runs the client with a terminal as its stdout and stderr, as a person would.
    const onTerminal = async (quiet: boolean) =>
      new TextDecoder().decode(
        (await new Deno.Command("script", {
          args: ["-qec", command(quiet), "/dev/null"],
          cwd: w.dir,
          env: { ...w.options.env },
          stdin: "null",
        }).output()).stdout,
      );
    const shown = await onTerminal(false);
    assert.match(
      shown,
      /big\.bin\s+\d+%\s+[\d.]+ (KiB|MiB) \/ 3\.0 MiB\s+[\d.]+ \w+\/s\s+\d+s left/,
    );
    assert.match(shown, /backed up big\.bin as big\.bin \(3\.0 MiB\)/);
    assert.doesNotMatch(await onTerminal(true), /%/);
    const piped = await w.client("backup", "big.bin", "--user=6", `--server=127.0.0.1:${t.port}`);
    assert.doesNotMatch(piped.stderr, /%/);
  },
});
