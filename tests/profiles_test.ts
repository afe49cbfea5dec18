/**
 * Profiles (`--profile NAME`, `$BACKUP_PROFILE`, `default`): the client's connection flags kept in
 * `profiles.json` in its config folder. Run as subprocesses against a real TLS server with an
 * account: snapshot and per-file commands with no connection flag typed; a typed flag overrides
 * the profile; a bad file or a missing profile is a usage error before anything connects.
 */
import assert from "node:assert/strict";
import {
  type ClientWorkspace,
  clientWorkspace,
  freePort,
  jsonLines,
  keyedUsersFile,
  runCli,
} from "./_processes.ts";
import { startTestServer, type TestServer } from "./_helpers.ts";
import { TLS } from "./_v2.ts";
import {
  applyProfile,
  type ProfileFlags,
  readProfiles,
  selectProfile,
  writeProfiles,
} from "../cli/profiles.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 7;

/** A workspace with a key made by `keygen ARGS`, and a TLS server with its account. */
async function setup(
  keygenArgs: string[] = [],
  port = 0,
): Promise<{ w: ClientWorkspace; server: TestServer; profiles: string } & AsyncDisposable> {
  const w = await clientWorkspace("backup-profiles-", { below: "work" });
  const usersFile = await keyedUsersFile(w, USER, { keygenArgs });
  const server = await startTestServer({ tls: TLS, access: { usersFile }, port });
  return {
    w,
    server,
    profiles: `${w.dir}/config/backup-client/profiles.json`,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await w[Symbol.asyncDispose]();
    },
  };
}

/** `profile set NAME` with the test server, the account and the CA (given relative). */
async function setProfile(w: ClientWorkspace, name: string, port: number): Promise<void> {
  await Deno.copyFile(TLS.certFile, `${w.dir}/work/cert.pem`);
  const set = await w.client(
    "profile",
    "set",
    name,
    `--server=127.0.0.1:${port}`,
    `--user=${USER}`,
    "--ca=cert.pem",
  );
  assert.equal(set.code, 0, set.stderr);
}

Deno.test("profile set, then backup, snapshots and restore with only --profile NAME, $BACKUP_PROFILE or the default", async () => {
  await using s = await setup();
  const { w } = s;
  await setProfile(w, "work", s.server.port);
  const file = JSON.parse(await Deno.readTextFile(s.profiles));
  assert.equal(file.work.server, `127.0.0.1:${s.server.port}`);
  assert.equal(file.work.user, USER);
  assert.equal(file.work.ca, `${w.dir}/work/cert.pem`, "a path is kept absolute");
  assert.equal((await Deno.stat(s.profiles)).mode! & 0o777, 0o600);
  const leftovers = [...Deno.readDirSync(`${w.dir}/config/backup-client`)]
    .filter((entry) => entry.name.includes(".tmp"));
  assert.deepEqual(leftovers, [], "written by a rename: no temporary file is left");

  const src = `${w.dir}/src`;
  await Deno.mkdir(`${src}/docs`, { recursive: true });
  await Deno.writeTextFile(`${src}/docs/a.txt`, "alpha\n".repeat(500));
  const backup = await w.client("--profile", "work", "backup", src, "--host=h1", "--json");
  assert.equal(backup.code, 0, backup.stderr);
  const made = jsonLines(backup.stdout).find((line) => line.op === "backup" && line.ok);
  assert.ok(made?.snapshot, backup.stdout);

  const byEnv = await runCli("client.ts", ["snapshots", "--json"], {
    ...w.options,
    env: { ...w.options.env, BACKUP_PROFILE: "work" },
  });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.deepEqual(JSON.parse(byEnv.stdout).map((x: { id: string }) => x.id), [made.snapshot]);

  // No profile named: the one called default (here what keygen wrote: the key only), then the
  // built-in default for the rest (./server.info, naming a port nobody listens on).
  const port = freePort();
  await Deno.writeTextFile(`${w.dir}/work/server.info`, `127.0.0.1:${port}\n`);
  const none = await w.client("snapshots");
  assert.equal(none.code, 3, none.stderr);
  assert.match(none.stderr, new RegExp(`^user 7 at 127.0.0.1:${port} \\(profile default\\)$`, "m"));
  await setProfile(w, "default", s.server.port);
  const target = `${w.dir}/restored`;
  const restore = await w.client("restore", "latest", "--target", target, "--host=h1");
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stderr, /^user 7 at 127\.0\.0\.1:\d+ \(profile default\)$/m);
  assert.equal(await Deno.readTextFile(`${target}${src}/docs/a.txt`), "alpha\n".repeat(500));
});

Deno.test("per-file commands (v2) honour the default profile: backup --files, list, versions, restore", async () => {
  await using s = await setup();
  const { w } = s;
  await setProfile(w, "default", s.server.port);
  await Deno.writeTextFile(`${w.dir}/work/a.txt`, "one\n");
  const backup = await w.client("backup", "--files", "a.txt");
  assert.equal(backup.code, 0, backup.stderr);
  const list = await w.client("list");
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim(), "a.txt");
  const versions = await w.client("versions", "a.txt", "--json");
  assert.equal(versions.code, 0, versions.stderr);
  assert.equal(jsonLines(versions.stdout)[0].versions instanceof Array, true);
  const restore = await w.client("restore", "a.txt", "-o", "back.txt");
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readTextFile(`${w.dir}/work/back.txt`), "one\n");
});

Deno.test("a typed flag overrides the profile's setting, and only that setting", async () => {
  await using s = await setup();
  const { w } = s;
  // The profile names a port nobody listens on; a typed --server reaches the real one, with the
  // profile's user and CA.
  await setProfile(w, "default", freePort());
  const typed = await w.client(`--server=127.0.0.1:${s.server.port}`, "snapshots");
  assert.equal(typed.code, 0, typed.stderr);
  // And the other way round: a good profile, a typed --server that is wrong.
  await setProfile(w, "default", s.server.port);
  assert.equal((await w.client("list")).code, 0);
  const wrong = await w.client(`--server=127.0.0.1:${freePort()}`, "list");
  assert.equal(wrong.code, 3, wrong.stderr);
  // A typed --user wins over the profile's: the key is not registered for 8.
  const other = await w.client("--user=8", "list");
  assert.equal(other.code, 1, other.stderr);
  assert.match(other.stderr, /authentication failed/);
});

Deno.test("keygen records what it set up in the profile: the next command needs no flag", async () => {
  const port = freePort();
  const cert = TLS.certFile;
  await using s = await setup(
    ["--user", String(USER), `--server=127.0.0.1:${port}`, `--ca=${cert}`, "--profile=home"],
    port,
  );
  const { w } = s;
  const file = JSON.parse(await Deno.readTextFile(s.profiles));
  assert.deepEqual(file, {
    home: {
      server: `127.0.0.1:${port}`,
      user: USER,
      key: `${w.dir}/config/backup-client/key`,
      ca: cert,
    },
  });
  assert.equal((await Deno.stat(s.profiles)).mode! & 0o777, 0o600);
  const list = await w.client("--profile=home", "snapshots");
  assert.equal(list.code, 0, list.stderr);
  // keygen --encryption adds its key to the same profile, keeping the rest.
  const sealing = await w.client("keygen", "--encryption", "--profile=home");
  assert.equal(sealing.code, 0, sealing.stderr);
  const after = JSON.parse(await Deno.readTextFile(s.profiles));
  assert.equal(after.home["encryption-key"], `${w.dir}/config/backup-client/encryption-key`);
  assert.equal(after.home.server, `127.0.0.1:${port}`);
});

Deno.test("a scratch keygen with no profile named never repoints the default profile's key", async () => {
  const port = freePort();
  await using s = await setup(["--user", String(USER), `--server=127.0.0.1:${port}`], port);
  const { w } = s;
  const scratch = await w.client("keygen", `--key=${w.dir}/scratch`);
  assert.equal(scratch.code, 0, scratch.stderr);
  assert.match(
    scratch.stderr,
    /profile default keeps its key .*: to record this one, give --profile/,
  );
  const file = JSON.parse(await Deno.readTextFile(s.profiles));
  assert.equal(file.default.key, `${w.dir}/config/backup-client/key`);
  // The default profile still signs in as the account.
  const list = await w.client(`--ca=${TLS.certFile}`, "snapshots");
  assert.equal(list.code, 0, list.stderr);
  // Named, the profile takes it.
  const named = await w.client("keygen", `--key=${w.dir}/other`, "--profile=other");
  assert.equal(named.code, 0, named.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(s.profiles)).other.key, `${w.dir}/other`);
});

Deno.test("a profiles file that is not JSON, has an unknown setting or a wrong type, or lacks the profile named: exit 2, nothing runs", async () => {
  await using s = await setup();
  const { w } = s;
  await Deno.writeTextFile(`${w.dir}/work/a.txt`, "one\n");
  const at = [`--server=127.0.0.1:${s.server.port}`, `--user=${USER}`, `--ca=${TLS.certFile}`];
  const cases: Array<[string, RegExp]> = [
    ["{ not json", /profiles\.json is not valid JSON/],
    ['["default"]', /must hold a JSON object of profiles/],
    ['{"default": {"sever": "h:1"}}', /unknown setting "sever" in profile "default"/],
    ['{"default": {"user": "seven"}}', /"user" in profile "default" .* must be a whole number/],
    ['{"default": {"tls": "yes"}}', /"tls" in profile "default" .* must be true or false/],
    ['{"default": {"ca": "cert.pem"}}', /"ca" in profile "default" .* must be an absolute path/],
    ['{"default": {"server": "nowhere"}}', /profile "default" .*--server must be HOST:PORT/],
  ];
  for (const [text, message] of cases) {
    await Deno.writeTextFile(s.profiles, text);
    const run = await w.client(...at, "backup", "--files", "a.txt");
    assert.equal(run.code, 2, `${text}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /user 7 at/, "nothing ran");
  }
  await Deno.writeTextFile(s.profiles, '{"work": {}}');
  const missing = await w.client(...at, "--profile=home", "backup", "--files", "a.txt");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no profile "home" in .*profiles\.json \(profiles: work/);
  const byEnv = await runCli("client.ts", [...at, "list"], {
    ...w.options,
    env: { ...w.options.env, BACKUP_PROFILE: "home" },
  });
  assert.equal(byEnv.code, 2);
  assert.match(byEnv.stderr, /no profile "home"/);
  const listed = await w.client(...at, "list");
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout.trim(), "", "no backup ran");
});

Deno.test("profile list, show, unset and remove; each write leaves a 0600 file", async () => {
  await using w = await clientWorkspace("backup-profiles-");
  const path = `${w.dir}/config/backup-client/profiles.json`;
  assert.equal((await w.client("profile", "set", "a", "--server=h:1", "--tls")).code, 0);
  assert.equal((await w.client("profile", "set", "b", "--user=3", "--timeout=2.5")).code, 0);
  const list = await w.client("profile", "list");
  assert.equal(list.stdout, "  a\n  b\n", "no default: none is marked");
  assert.equal((await w.client("--profile=b", "profile", "list")).stdout, "  a\n* b\n");
  const show = await w.client("profile", "show", "b", "--json");
  assert.deepEqual(JSON.parse(show.stdout).profile, { user: 3, timeout: 2.5 });
  assert.equal((await w.client("profile", "unset", "a", "tls")).code, 0);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)).a, { server: "h:1" });
  assert.equal((await w.client("profile", "remove", "b")).code, 0);
  assert.deepEqual(Object.keys(JSON.parse(await Deno.readTextFile(path))), ["a"]);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  const bad = await w.client("profile", "set", "a", "--host=x");
  assert.equal(bad.code, 2);
  assert.equal((await w.client("profile", "remove", "nope")).code, 2);
  assert.equal((await w.client("profile", "set", "../x", "--tls")).code, 2);
});

Deno.test("applyProfile: a typed flag wins, then the profile; --v1 leaves out the profile's key", () => {
  const profile = {
    server: "h:1",
    user: 3,
    key: "/k",
    "repository-key-file": "/r",
    ca: "/ca",
    tls: true,
    timeout: 9,
  };
  assert.deepEqual(applyProfile({ server: "t:2", "password-file": "/typed" }, profile), {
    server: "t:2",
    user: "3",
    key: "/k",
    "encryption-key": undefined,
    "repository-key-file": "/r",
    "password-file": "/typed",
    ca: "/ca",
    tls: true,
    timeout: "9",
  });
  const v1: ProfileFlags = { v1: true };
  assert.equal(applyProfile(v1, profile).key, undefined);
  assert.equal(applyProfile({ user: "5" }, {}).user, "5");
});

Deno.test("writeProfiles replaces the file whole; selectProfile takes default only if present", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-profiles-" });
  try {
    const path = `${dir}/sub/profiles.json`;
    assert.deepEqual(await selectProfile(undefined, path), { profile: {}, path });
    await writeProfiles(path, { default: { user: 1 }, x: { tls: true } });
    await writeProfiles(path, { default: { user: 2 } });
    assert.deepEqual({ ...await readProfiles(path) }, { default: { user: 2 } });
    // Names are only names: not the built-in properties of an object.
    await assert.rejects(selectProfile("constructor", path), /no profile "constructor"/);
    assert.deepEqual(await selectProfile(undefined, path), {
      name: "default",
      profile: { user: 2 },
      path,
    });
    await assert.rejects(selectProfile("x", path), /no profile "x"/);
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/sub`)].map((entry) => entry.name),
      ["profiles.json"],
    );
    // A profiles file that is a link (a dotfiles manager's) stays a link.
    await Deno.rename(path, `${dir}/real.json`);
    await Deno.symlink(`${dir}/real.json`, path);
    await writeProfiles(path, { default: { user: 3 } });
    assert.ok((await Deno.lstat(path)).isSymlink);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/real.json`)), {
      default: { user: 3 },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
