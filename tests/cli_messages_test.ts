/**
 * Errors that mislead (issue 20, item 13) and the warning for an account's session in clear
 * (item 7, client side): each failure a new user met is one clear line, with what to do, and the
 * exit code of its kind. The CLIs run as subprocesses against real servers.
 */
import assert from "node:assert/strict";
import { type ClientWorkspace, clientWorkspace, keyedUsersFile, runCli } from "./_processes.ts";
import { PROJECT_DIR, startTestServer, type TestServer } from "./_helpers.ts";
import { TLS } from "./_v2.ts";
import { startFakeServer } from "./_fake_server.ts";
import { Status } from "../protocol/constants.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 77;

/** A workspace with a key (no id recorded beside it) and a server whose account 77 holds it. */
async function withAccount(
  options: { tls: boolean },
  run: (w: ClientWorkspace, t: TestServer) => Promise<void>,
): Promise<void> {
  await using w = await clientWorkspace("backup-messages-");
  const usersFile = await keyedUsersFile(w, USER, { name: "alice" });
  await using t = await startTestServer({
    access: { usersFile },
    tls: options.tls ? TLS : undefined,
  });
  await run(w, t);
}

Deno.test("restore --version with a bad or missing number is a usage error; --version alone is the program's", async () => {
  await using w = await clientWorkspace("backup-messages-");
  const bad = await w.client("restore", "x.txt", "--version", "abc");
  assert.equal(bad.code, 2, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /^backup-client: --version must be a whole number .*got "abc"/);
  assert.equal(bad.stdout, "", "not the program's version");
  const bare = await w.client("restore", "x.txt", "--version");
  assert.equal(bare.code, 2, bare.stdout + bare.stderr);
  assert.match(bare.stderr, /--version needs a version number with restore/);
  const inline = await w.client("restore", "x.txt", "--version=");
  assert.equal(inline.code, 2, inline.stdout + inline.stderr);
  const program = await w.client("--version");
  assert.equal(program.code, 0, program.stderr);
  assert.match(program.stdout, /^backup-client \d+\.\d+\.\d+\n$/);
});

Deno.test("a plain client on a TLS port is told the server speaks TLS and to add --tls", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--user", String(USER)];
    for (const protocol of [[], ["--v1"]]) {
      const plain = await w.client(...at, ...protocol, "list");
      assert.equal(plain.code, 3, plain.stderr);
      assert.match(plain.stderr, /speaks TLS.*add --tls/);
      assert.doesNotMatch(plain.stderr, /status 771|version 21/);
    }
  });
});

Deno.test("an unknown issuer says to pass --ca with the server's certificate", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--user", String(USER)];
    const untrusted = await w.client(...at, "--tls", "list");
    assert.equal(untrusted.code, 3, untrusted.stderr);
    assert.match(untrusted.stderr, /UnknownIssuer: .*pass --ca FILE/);
    const trusted = await w.client(...at, "--ca", TLS.certFile, "list");
    assert.equal(trusted.code, 0, trusted.stderr);
  });
});

Deno.test("--v1 refused by a server with accounts says the likely reason and what to do", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const v1 = ["--server", `127.0.0.1:${t.port}`, "--ca", TLS.certFile, "--user", "5", "--v1"];
    const refused = await w.client(...v1, "list");
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /general error.*accounts.*use a key.*drop --v1/);
    // A backup goes on past each refused file: the hint comes once, at the end.
    await Deno.writeTextFile(`${w.dir}/a.txt`, "a");
    const backup = await w.client(...v1, "backup", "a.txt");
    assert.equal(backup.code, 4, backup.stderr);
    assert.match(backup.stderr, /refused them with "general error": .*use a key.*drop --v1/);
  });
});

Deno.test("with a key and no --user the client asks for the id, never makes one up; a login that works records it", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--ca", TLS.certFile];
    const userIdFile = `${w.dir}/config/backup-client/user-id`;
    const asked = await w.client(...at, "list");
    assert.equal(asked.code, 2, asked.stderr);
    assert.match(asked.stderr, /with a key, say which account it is: --user ID/);
    assert.equal(await exists(userIdFile), false, "no id was made up and saved");
    const noLogin = await w.client(...at, "--user", "78", "delete", "x.txt", "--dry-run");
    assert.equal(noLogin.code, 0, noLogin.stderr);
    assert.doesNotMatch(noLogin.stderr, /remembered/, "no request, no login: nothing recorded");
    const wrong = await w.client(...at, "--user", "78", "list");
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /authentication failed: is 78 the id .* pass --user ID/);
    const first = await w.client(...at, "--user", String(USER), "list");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /user 77 remembered for this key/);
    const next = await w.client(...at, "list");
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /^user 77 at /m);
    assert.equal(await exists(userIdFile), false);
    // keygen --user records the id at once.
    const other = await w.client("keygen", "--key", "other-key", "--user", "12");
    assert.equal(other.code, 0, other.stderr);
    assert.equal((await Deno.readTextFile(`${w.dir}/other-key.user-id`)).trim(), "12");
  });
});

Deno.test("with a key, the id an earlier version kept in the config folder is still used, then recorded beside the key", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--ca", TLS.certFile];
    await Deno.mkdir(`${w.dir}/config/backup-client`, { recursive: true });
    await Deno.writeTextFile(`${w.dir}/config/backup-client/user-id`, `${USER}\n`);
    const listed = await w.client(...at, "list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /user 77 remembered for this key/);
  });
});

Deno.test("a key used over plain TCP warns for another host than loopback, not for 127.0.0.1 or without a key", async () => {
  await withAccount({ tls: false }, async (w, t) => {
    const user = ["--user", String(USER)];
    const local = await w.client("--server", `127.0.0.1:${t.port}`, ...user, "list");
    assert.equal(local.code, 0, local.stderr);
    assert.doesNotMatch(local.stderr, /plain TCP/);
    // 0.0.0.0 is not a loopback address (on Linux it reaches this machine: the login works).
    const remote = await w.client("--server", `0.0.0.0:${t.port}`, ...user, "list");
    const warnings = remote.stderr.split("\n").filter((line) => /plain TCP/.test(line));
    assert.equal(warnings.length, 1, remote.stderr);
    assert.match(
      warnings[0],
      /^backup-client: warning: authenticating to 0\.0\.0\.0 over plain TCP/,
    );
    const quiet = await w.client("--server", `0.0.0.0:${t.port}`, ...user, "--quiet", "list");
    assert.match(quiet.stderr, /plain TCP/, "a warning shows even with --quiet");
    const v1 = await w.client("--server", `0.0.0.0:${t.port}`, "--v1", ...user, "list");
    assert.doesNotMatch(v1.stderr, /plain TCP/, "no key, no authentication to warn about");
  });
});

Deno.test("a dry run of backup --delete says what it would upload and delete", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--ca", TLS.certFile, "--user", "77"];
    await Deno.mkdir(`${w.dir}/d/e`, { recursive: true });
    await Deno.writeTextFile(`${w.dir}/d/e/f.txt`, "f");
    await Deno.writeTextFile(`${w.dir}/d/g.txt`, "g");
    assert.equal((await w.client(...at, "backup", "--files", "d")).code, 0);
    await Deno.remove(`${w.dir}/d/g.txt`);
    await Deno.writeTextFile(`${w.dir}/d/h.txt`, "h");
    const dry = await w.client(...at, "backup", "d", "--delete", "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout.trim().split("\n").at(-1),
      "would upload 1, unchanged 1, would delete 1, skipped 0, failed 0",
    );
    assert.equal((await w.client(...at, "list")).stdout, "d/e/f.txt\nd/g.txt\n", "nothing done");
  });
});

Deno.test("versions of a folder lists each file's versions", async () => {
  await withAccount({ tls: true }, async (w, t) => {
    const at = ["--server", `127.0.0.1:${t.port}`, "--ca", TLS.certFile, "--user", "77"];
    await Deno.mkdir(`${w.dir}/d/e`, { recursive: true });
    await Deno.writeTextFile(`${w.dir}/d/e/f.txt`, "f");
    await Deno.writeTextFile(`${w.dir}/d/g.txt`, "g");
    assert.equal((await w.client(...at, "backup", "--files", "d")).code, 0);
    for (const name of ["d/", "d"]) {
      const listed = await w.client(...at, "versions", name);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(
        listed.stdout,
        /^d\/e\/f\.txt\nVERSION .*\n\d+ .* current\n\nd\/g\.txt\nVERSION .*\n\d+ .* current\n$/,
      );
    }
    const json = await w.client(...at, "versions", "d/", "--json");
    const rows = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(rows.map((row) => [row.name, row.versions.length]), [
      ["d/e/f.txt", 1],
      ["d/g.txt", 1],
    ]);
    const none = await w.client(...at, "versions", "nothing/");
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /file does not exist: nothing\//);
  });
});

Deno.test("a local write failure names the file asked for, not its temporary name", async () => {
  await using t = await startTestServer();
  await using w = await clientWorkspace("backup-messages-", {
    args: ["--user=9", `--server=127.0.0.1:${t.port}`],
  });
  await Deno.writeTextFile(`${w.dir}/x.txt`, "x");
  assert.equal((await w.client("backup", "x.txt")).code, 0);
  const failed = await w.client("restore", "x.txt", "-o", "missing/x.txt");
  assert.equal(failed.code, 2, failed.stderr);
  assert.match(failed.stderr, /^backup-client: cannot write missing\/x\.txt: /m);
  assert.doesNotMatch(failed.stderr, /partial/);
});

Deno.test("a 65,535-byte name in a v1 answer is the server's protocol error (exit 3), not a local one", async () => {
  const name = new Uint8Array(0xffff).fill(0x78);
  const answer = new Uint8Array(1 + 2 + 2 + name.length + 4);
  const view = new DataView(answer.buffer);
  view.setUint8(0, 1);
  view.setUint16(1, Status.FileRestored, true);
  view.setUint16(3, name.length, true);
  answer.set(name, 5);
  await using fake = startFakeServer(() => answer);
  await using w = await clientWorkspace("backup-messages-", {
    args: ["--user=9", `--server=127.0.0.1:${fake.port}`],
  });
  const restore = await w.client("restore", "x.txt");
  assert.equal(restore.code, 3, restore.stderr);
  assert.match(restore.stderr, /connection problem: the server sent a response header larger/);
  assert.doesNotMatch(restore.stderr, /cannot write/);
});

Deno.test("backup --help says what happens to links; --encrypt-names is documented", async () => {
  const help = await runCli("client.ts", ["backup", "--help"]);
  assert.equal(help.code, 0);
  assert.doesNotMatch(help.stdout, /Symbolic links and special files are skipped/);
  assert.match(help.stdout, /symbolic link is stored as a link/);
  assert.match(help.stdout, /--encrypt-names +\(backup, restore, list, delete, versions\)/);
  const readme = await Deno.readTextFile(`${PROJECT_DIR}/README.md`);
  assert.match(readme, /\| `--encrypt-names` /);
  const encryption = await Deno.readTextFile(`${PROJECT_DIR}/docs/encryption.md`);
  assert.match(encryption, /## Names \(`--encrypt-names`\)/);
});

Deno.test("server: a missing users file is named as such, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-messages-server-" });
  try {
    const missing = await runCli(
      "server.ts",
      ["--root", `${dir}/root`, "--port", "0", "--users", `${dir}/users.json`],
      { denoFlags: [`--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.1"] },
    );
    assert.equal(missing.code, 2, missing.stderr);
    assert.equal(
      missing.stderr,
      `backup-server: users file ${dir}/users.json not found (--users)\n`,
    );
    assert.equal(await exists(`${dir}/root`), false, "nothing was made");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server: a root the task's permissions do not cover says how to run it instead", async () => {
  const root = `${await Deno.makeTempDir({ prefix: "backup-messages-server-" })}/elsewhere`;
  try {
    // The "server" permission set is what `deno task serve` runs with: it takes no --allow flags.
    const task = await runCli("server.ts", ["--root", root, "--port", "0"], { cwd: PROJECT_DIR });
    assert.equal(task.code, 1, task.stderr);
    assert.match(task.stderr, /deno task serve takes no --allow-… flags/);
    assert.match(task.stderr, /keep --root under \.\/backup-root/);
    assert.match(
      task.stderr,
      new RegExp(`run: deno run .*--allow-read=${root} .*server\\.ts --root ${root} --port 0\n$`),
    );
    assert.equal(task.stderr.split("\n").length, 2, "one line");
  } finally {
    await Deno.remove(root.slice(0, -"/elsewhere".length), { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
