import assert from "node:assert/strict";
import { runCli, type RunOptions, spawnServer } from "./_processes.ts";
import { TLS } from "./_v2.ts";
import { chunksOf, flipByte, randomBytes } from "./_packs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("keygen, a TLS server with accounts, backup and restore; refusals are one line and an exit code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-cli-v2-" });
  const options: RunOptions = { cwd: dir, env: { XDG_CONFIG_HOME: `${dir}/config`, HOME: dir } };
  const client = (...args: string[]) => runCli("client.ts", args, options);
  try {
    const keygen = await client("keygen");
    assert.equal(keygen.code, 0, keygen.stderr);
    const line = keygen.stdout.trim();
    assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+ backup-client$/);
    assert.equal(Deno.statSync(`${dir}/config/backup-client/key`).mode! & 0o777, 0o600);
    assert.equal((await client("keygen")).code, 2, "an existing key is never overwritten");

    const users = `${dir}/users.json`;
    const writeUsers = (keys: string[]) =>
      Deno.writeTextFile(users, JSON.stringify({ users: [{ id: 77, name: "alice", keys }] }));
    await writeUsers([line]);
    const root = `${dir}/root`;
    // Exactly the permissions the server needs: its root, the users file, the TLS files, the net.
    const denoFlags = [
      `--allow-read=${root},${users},${TLS.certFile},${TLS.keyFile}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
    ];
    await using server = await spawnServer([
      "--root",
      root,
      "--port",
      "0",
      "--users",
      users,
      "--tls-cert",
      TLS.certFile,
      "--tls-key",
      TLS.keyFile,
    ], { denoFlags });
    assert.equal(server.startup.tls, true);
    assert.equal(server.startup.accounts, 1);
    const at = ["--server", `127.0.0.1:${server.port}`, "--user", "77"];
    const trusted = [...at, "--ca", TLS.certFile];
    const content = randomBytes(100_000); // stored as it is: a flipped byte stays a flipped byte
    await Deno.writeFile(`${dir}/photo.bin`, content);
    const backup = await client(...trusted, "backup", "--files", "photo.bin");
    assert.equal(backup.code, 0, backup.stderr);
    const restore = await client(...trusted, "restore", "photo.bin", "-o", "back.bin");
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/back.bin`), content);

    const untrusted = await client(...at, "--tls", "list"); // the system's roots do not know it
    assert.equal(untrusted.code, 3);
    assert.match(untrusted.stderr, /TLS with 127\.0\.0\.1:\d+ failed: .*UnknownIssuer/);
    assert.doesNotMatch(untrusted.stderr, /\n\s+at /, "no stack trace");
    const otherUser = await client(
      "--server",
      `127.0.0.1:${server.port}`,
      "--user",
      "78",
      "--ca",
      TLS.certFile,
      "list",
    );
    assert.equal(otherUser.code, 1);
    assert.match(otherUser.stderr, /refused the key of user 78: authentication failed/);

    // Verify on the live root, then a byte changed on disk: verify and restore both catch it.
    const verifyArgs = ["verify", "--root", root];
    const verifyFlags = { denoFlags: [`--allow-read=${root}`, `--allow-write=${root}`] };
    const verified = await runCli("server.ts", verifyArgs, verifyFlags);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /verified 1 versions .*: all match/);
    const [chunk] = chunksOf(root, 77, "photo.bin");
    await flipByte(chunk.path, chunk.offset + 500);
    const caught = await runCli("server.ts", [...verifyArgs, "--json"], verifyFlags);
    assert.equal(caught.code, 1);
    const [problem, summary] = caught.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(problem.problem.kind, "bad-chunk");
    assert.equal(problem.problem.name, "photo.bin");
    assert.equal(summary.summary.ok, false);
    const corrupt = await client(...trusted, "restore", "photo.bin", "-o", "bad.bin");
    assert.equal(corrupt.code, 1);
    assert.match(corrupt.stderr, /the stored copy of this file is damaged/);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("bad")),
      [],
    );

    // The key revoked in the users file, SIGHUP: refused from then on.
    await writeUsers([]);
    Deno.kill(server.pid, "SIGHUP");
    const reloaded = await server.waitForLine((l) => l.msg === "reloaded");
    assert.equal(reloaded?.accounts, 1);
    const revoked = await client(...trusted, "list");
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /authentication failed/);
    const stopped = await server.stop();
    assert.equal(stopped.code, 0);
    assert.ok(
      stopped.lines.some((l) =>
        l.msg === "handshake failed" && /key not listed/.test(String(l.error))
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server without accounts warns when it listens beyond loopback; flags that need each other say so", async () => {
  const root = await Deno.makeTempDir();
  try {
    await using server = await spawnServer(["--root", root, "--port", "0", "--host", "0.0.0.0"], {
      denoFlags: [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=0.0.0.0"],
    });
    const { lines } = await server.stop();
    assert.ok(lines.some((l) => l.level === "warn" && /without accounts/.test(String(l.msg))));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  for (
    const [args, message] of [
      [["--tls-cert", "c.pem"], /--tls-cert and --tls-key go together/],
      [["--allow-v1"], /--allow-v1 goes with --users/],
      [["--plain-listen", "127.0.0.1:9"], /--plain-listen goes with --tls-cert/],
    ] as const
  ) {
    const result = await runCli("server.ts", [...args]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, message);
  }
});
