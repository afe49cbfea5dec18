import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import denoConfig from "../deno.json" with { type: "json" };
import { PROJECT_DIR } from "./_helpers.ts";
import { freePort, runCli, spawnServer } from "./_processes.ts";
import { storedBytes } from "../harness/stored.ts";
import { TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Runs `fn` in a fresh temp folder, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "backup-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the server runs with only read/write of its root and net of its address", async () => {
  await inTempDir(async (dir) => {
    const root = `${dir}/root`;
    const flags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
    const server = await spawnServer(["--root", root, "--port", "0"], { denoFlags: flags });
    assert.equal(server.startup.root, root);
    {
      using client = await BackupClient.connect({ userId: 5, port: server.port });
      await client.backup("f", ReadableStream.from([new TextEncoder().encode("sandboxed")]), 9);
      assert.deepEqual(await client.list(), ["f"]);
    }
    const stopped = await server.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
    const messages = stopped.lines.map((line) => line.msg);
    assert.ok(messages.includes("request"));
    assert.ok(messages.includes("shutting down"));
    assert.equal(messages.at(-1), "stopped");
    assert.equal(new TextDecoder().decode(storedBytes(root, 5, "f")), "sandboxed");
  });
});

Deno.test("the deno.json permission set 'server' is what `deno task serve` runs with", async () => {
  assert.deepEqual(denoConfig.permissions.server, {
    // v2 added only read of the users file and the TLS files.
    read: [
      "./backup-root",
      "./port.info",
      "./backup-server.json",
      "./users.json",
      "./cert.pem",
      "./key.pem",
    ],
    write: ["./backup-root"],
    net: ["127.0.0.1"],
    // The S3 backend added only the credentials' variables (its endpoint is the operator's to add).
    env: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"],
  });
  assert.match(denoConfig.tasks.serve, /-P=server server\.ts$/);
  // Run it as a user would, from a folder with its own copy of deno.json (paths resolve from it).
  await inTempDir(async (dir) => {
    await Deno.copyFile(`${PROJECT_DIR}/deno.json`, `${dir}/deno.json`);
    const server = await spawnServer(["--port", "0"], {
      cwd: dir,
      denoFlags: [`--config=${dir}/deno.json`, "-P=server"],
    });
    assert.equal(server.startup.root, "./backup-root");
    const stopped = await server.stop("SIGINT");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok((await Deno.stat(`${dir}/backup-root/index.sqlite`)).isFile);
    // With accounts and TLS, as the README's network section runs it from a checkout.
    await Deno.writeTextFile(`${dir}/users.json`, JSON.stringify({ users: [] }));
    await Deno.copyFile(TLS.certFile, `${dir}/cert.pem`);
    await Deno.copyFile(TLS.keyFile, `${dir}/key.pem`);
    const secure = await spawnServer(
      ["--port", "0", "--users", "users.json", "--tls-cert", "cert.pem", "--tls-key", "key.pem"],
      { cwd: dir, denoFlags: [`--config=${dir}/deno.json`, "-P=server"] },
    );
    assert.equal(secure.startup.tls, true);
    assert.equal((await secure.stop("SIGINT")).code, 0);
  });
});

Deno.test("without write permission the server refuses to start and names the flag", async () => {
  await inTempDir(async (dir) => {
    const root = `${dir}/root`;
    const result = await runCli("server.ts", ["--root", root, "--port", "0"], {
      denoFlags: [`--allow-read=${root}`, "--allow-net=127.0.0.1"],
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `backup-server: missing Deno permission: run with --allow-write=${root}`,
    );
  });
});

Deno.test("a port in use is one clear line and exit 1", async () => {
  await inTempDir(async (dir) => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const root = `${dir}/root`;
    const result = await runCli("server.ts", ["--root", root, "--port", String(port)], {
      denoFlags: [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"],
    });
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim(), `backup-server: 127.0.0.1:${port} is already in use`);
  });
});

Deno.test("a root that is a file is one clear line and exit 1", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const result = await runCli("server.ts", ["--root", `${dir}/file`, "--port", "0"], {
      denoFlags: [`--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-net=127.0.0.1"],
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`^backup-server: the backup root ${dir}/file is not usable`),
    );
    assert.equal(result.stderr.trim().split("\n").length, 1);
  });
});

Deno.test("unknown flags and bad values: one line and exit 2", async () => {
  for (
    const [args, message] of [
      [["--bogus"], "Unknown option '--bogus'"],
      [["--port", "70000"], '--port must be a whole number from 0 to 65535, got "70000"'],
      [["--max-file-size", "lots"], "--max-file-size must be a size like"],
      [["--log-format", "xml"], '--log-format must be text or json, got "xml"'],
      [["--keep-days", "soon"], "--keep-days must be a whole number"],
      [["--blob-grace", "0"], "--blob-grace must be a whole number"],
      [["--read-cache", "lots"], "--read-cache must be a size like"],
      [["--hash-workers", "9"], '--hash-workers must be a whole number from 0 to 8, got "9"'],
      [["--idle-timeout=soon"], "--idle-timeout must be a number of seconds"],
      [["extra"], 'unexpected argument "extra"'],
    ] as const
  ) {
    const result = await runCli("server.ts", [...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.ok(result.stderr.startsWith(`backup-server: ${message}`), result.stderr);
    assert.equal(result.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("the port comes from port.info when no --port is given", async () => {
  await inTempDir(async (dir) => {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/port.info`, `${port}\n`);
    const root = `${dir}/root`;
    const server = await spawnServer(["--root", root], {
      cwd: dir,
      denoFlags: [
        `--allow-read=${root},${dir}/port.info`,
        `--allow-write=${root}`,
        `--allow-net=127.0.0.1`,
      ],
    });
    assert.equal(server.port, port);
    assert.equal((await server.stop()).code, 0);
  });
});

Deno.test("--help and --version", async () => {
  const help = await runCli("server.ts", ["--help"]);
  assert.equal(help.code, 0);
  const flags = [
    "--root",
    "--host",
    "--port",
    "--max-file-size",
    "--keep-days",
    "--keep-versions",
    "--blob-grace",
    "--read-cache",
    "--hash-workers",
    "--close-after-response",
  ];
  for (const flag of flags) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const version = await runCli("server.ts", ["--version"]);
  assert.equal(version.stdout.trim(), `backup-server ${denoConfig.version}`);
});

Deno.test("a JSON config file sets any flag, flags override it, and stats lines report totals", async () => {
  await inTempDir(async (dir) => {
    const root = `${dir}/root`;
    const config = `${dir}/backup-server.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        root,
        port: 1,
        "stats-interval": 0.1,
        quiet: true,
        "max-file-size": "1K",
        "read-cache": "1M",
      }),
    );
    const flags = [
      `--allow-read=${root},${config}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
    ];
    const server = await spawnServer(["--config", config, "--port", "0"], { denoFlags: flags });
    assert.equal(server.startup.root, root, "root from the file");
    assert.notEqual(server.port, 1, "--port on the command line overrides the file");
    {
      using client = await BackupClient.connect({ userId: 5, port: server.port });
      assert.deepEqual(await client.list(), []);
      await client.backup("f", ReadableStream.from([new Uint8Array(10)]), 10);
    }
    const stats = await server.waitForLine((line) =>
      line.msg === "stats" && (line.requests as Record<string, unknown>).backup !== undefined
    );
    const stopped = await server.stop();
    assert.ok(!stopped.lines.some((line) => line.msg === "request"), "quiet from the file");
    assert.ok(stats, "a stats line was logged");
    assert.deepEqual(stats.requests, { list: { 1002: 1 }, backup: { 212: 1 } });
    assert.equal(stats.bytesIn, 10);
    // The client takes a fresh connection after an error status (1002 here): some servers pad it.
    assert.equal(stats.connectionsAccepted, 2);
    const commits = stats.groupCommits as { commits: number; changes: number };
    assert.equal(commits.changes, 1, "the one upload, made durable by a group commit");
    assert.ok(commits.commits >= 1);
    assert.deepEqual(stats.readCache, { hits: 0, files: 0, bytes: 0 });
    assert.equal(stats.slowDiskFiles, 0);

    await Deno.writeTextFile(config, JSON.stringify({ rooot: "/x" }));
    const bad = await runCli("server.ts", ["--config", config], { denoFlags: flags });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown setting "rooot"/);
  });
});
