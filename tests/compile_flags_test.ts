import assert from "node:assert/strict";
import {
  compileArgs,
  DEFAULT_BUILD_ETC,
  SERVER_V8_ARG,
  SERVER_V8_FLAGS,
  TARGETS,
} from "../tools/compile_flags.ts";
import { startServerProcess } from "../harness/server_process.ts";
import { DENO, PROJECT_DIR } from "./_helpers.ts";
import { runCli, spawnServer } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("the server executable gets read/write of its root, read of its accounts and TLS files, net of its address, nothing more", () => {
  assert.deepEqual(compileArgs({ program: "server", outDir: "dist" }), [
    "compile",
    "--no-prompt",
    "--no-check",
    "--output",
    "dist/backup-server",
    "--v8-flags=--max-semi-space-size=1",
    "--allow-read=/var/lib/backup-server,/etc/backup-server/users.json," +
    "/etc/backup-server/cert.pem,/etc/backup-server/key.pem",
    "--allow-write=/var/lib/backup-server",
    "--allow-net=0.0.0.0:1234",
    "server.ts",
    "--sandbox-root=/var/lib/backup-server",
    "--host=0.0.0.0",
    "--port=1234",
  ]);
  const custom = compileArgs({
    program: "server",
    outDir: "out",
    target: "aarch64-apple-darwin",
    root: "/srv/backup",
    listen: "127.0.0.1:4000",
  });
  assert.deepEqual(custom, [
    "compile",
    "--no-prompt",
    "--no-check",
    "--output",
    "out/backup-server-macos-arm64",
    "--target",
    "aarch64-apple-darwin",
    "--v8-flags=--max-semi-space-size=1",
    "--allow-read=/srv/backup,/etc/backup-server/users.json,/etc/backup-server/cert.pem," +
    "/etc/backup-server/key.pem",
    "--allow-write=/srv/backup",
    "--allow-net=127.0.0.1:4000",
    "server.ts",
    "--sandbox-root=/srv/backup",
    "--host=127.0.0.1",
    "--port=4000",
  ]);
  for (const target of Object.keys(TARGETS)) {
    const args = compileArgs({ program: "server", outDir: "d", target });
    assert.ok(
      !args.some((arg) =>
        /^(-A|--allow-all|--allow-run|--allow-ffi|--allow-env|--allow-sys)/.test(arg)
      ),
    );
    assert.equal(args.filter((arg) => arg.startsWith("--allow-")).length, 3);
  }
  assert.equal(
    compileArgs({ program: "server", outDir: "d", target: "x86_64-pc-windows-msvc" })[4],
    "d/backup-server-windows-x64.exe",
  );
});

Deno.test("built for S3, the server executable gets no files but its accounts and TLS files: net of the store and its credentials", () => {
  assert.deepEqual(
    compileArgs({
      program: "server",
      outDir: "dist",
      s3: { endpoint: "https://s3.example.net", bucket: "backups" },
      admin: "127.0.0.1:9100",
    }),
    [
      "compile",
      "--no-prompt",
      "--no-check",
      "--output",
      "dist/backup-server",
      "--v8-flags=--max-semi-space-size=1",
      "--allow-read=/etc/backup-server/users.json,/etc/backup-server/cert.pem," +
      "/etc/backup-server/key.pem",
      "--allow-net=0.0.0.0:1234,127.0.0.1:9100,backups.s3.example.net",
      "--allow-env=AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_SESSION_TOKEN",
      "server.ts",
      "--storage=s3",
      "--s3-endpoint=https://s3.example.net",
      "--s3-bucket=backups",
      "--host=0.0.0.0",
      "--port=1234",
      "--admin-listen=127.0.0.1:9100",
    ],
  );
  const pathStyle = compileArgs({
    program: "server",
    outDir: "d",
    s3: { endpoint: "http://10.0.0.5:9000", bucket: "b1", pathStyle: true },
  });
  assert.ok(pathStyle.includes("--allow-net=0.0.0.0:1234,10.0.0.5:9000"));
  assert.ok(pathStyle.includes("--s3-path-style"));
  assert.throws(
    () =>
      compileArgs({ program: "server", outDir: "d", s3: { endpoint: "https://h", bucket: "" } }),
    /--s3-bucket/,
  );
});

Deno.test("the client executable gets net, read, write, the environment and system facts it reads", () => {
  assert.deepEqual(compileArgs({ program: "client", outDir: "dist" }), [
    "compile",
    "--no-prompt",
    "--no-check",
    "--output",
    "dist/backup-client",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env=HOME,XDG_CONFIG_HOME,APPDATA,NO_COLOR,TMPDIR,BACKUP_PASSPHRASE,BACKUP_PASSWORD,BACKUP_PASSWORD_FILE,BACKUP_NEW_PASSWORD,BACKUP_PROFILE,USER",
    "--allow-sys=hostname,uid,gid",
    "--include",
    "client/snapshot/restore_file_worker.ts",
    "client.ts",
  ]);
});

Deno.test("every module the client or server starts as a worker from a file is included", async () => {
  const { CLIENT_WORKERS } = await import("../tools/compile_flags.ts");
  const found: string[] = [];
  for (
    const folder of ["cli", "client", "common", "io", "protocol", "repository", "server", "storage"]
  ) {
    for await (const path of walkTs(`${PROJECT_DIR}/${folder}`)) {
      const text = await Deno.readTextFile(path);
      for (
        const match of text.matchAll(/new URL\("(\.\/[^"]+_worker\.ts)", import\.meta\.url\)/g)
      ) {
        const dir = path.slice(PROJECT_DIR.length + 1).split("/").slice(0, -1).join("/");
        found.push(`${dir}/${match[1].slice(2)}`);
      }
    }
  }
  assert.deepEqual(found.sort(), [...CLIENT_WORKERS].sort());
});

async function* walkTs(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walkTs(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("compile arguments refuse an unknown target, a relative root, a listen without port", () => {
  assert.throws(
    () => compileArgs({ program: "server", outDir: "d", target: "vax" }),
    /unknown target/,
  );
  assert.throws(() => compileArgs({ program: "server", outDir: "d", root: "data" }), /absolute/);
  assert.throws(
    () => compileArgs({ program: "server", outDir: "d", listen: "0.0.0.0" }),
    /HOST:PORT/,
  );
});

/** Runs server.ts exactly as the compiled executable would: its permissions, its built-in arguments. */
function asCompiled(root: string, port: number) {
  const args = compileArgs({ program: "server", outDir: "d", root, listen: `127.0.0.1:${port}` });
  const entry = args.indexOf("server.ts");
  const permissions = args.filter((arg) =>
    arg.startsWith("--allow-") || arg.startsWith("--v8-flags=")
  );
  return { denoFlags: permissions, builtIn: args.slice(entry + 1) };
}

Deno.test("with the executable's permissions and arguments, the server runs on its root only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-compiled-" });
  try {
    const root = `${dir}/root`;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const compiled = asCompiled(root, port);
    {
      await using server = await spawnServer(compiled.builtIn, { denoFlags: compiled.denoFlags });
      assert.equal(server.port, port);
      assert.equal(server.startup.root, root);
      assert.equal((await server.stop()).code, 0);
    }
    {
      // Naming the same root (even with a trailing slash) is fine.
      const args = [...compiled.builtIn, "--root", `${root}/`];
      await using same = await spawnServer(args, { denoFlags: compiled.denoFlags });
      assert.equal((await same.stop()).code, 0);
    }
    const other = await runCli("server.ts", [...compiled.builtIn, "--root", `${dir}/elsewhere`], {
      denoFlags: compiled.denoFlags,
    });
    assert.equal(other.code, 2);
    assert.match(
      other.stderr,
      new RegExp(`may only use the root it was built for, ${root}; .*deno task compile --root`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the systemd unit and the Containerfile run with accounts and TLS, from the files the sandbox may read", async () => {
  const unit = await Deno.readTextFile(`${PROJECT_DIR}/deploy/backup-server.service`);
  const execStart = unit.match(/^ExecStart=((?:.*\\\n)*.*)$/m)![1].replace(/\\\n/g, " ");
  const flag = (text: string, name: string) =>
    text.match(new RegExp(`${name}[ =",]+([^ ",]+)`))?.[1];
  const baked = compileArgs({ program: "server", outDir: "d" }).find((arg) =>
    arg.startsWith("--allow-read=")
  )!.slice("--allow-read=".length).split(",");
  for (
    const [name, file] of [["--users", "users.json"], ["--tls-cert", "cert.pem"], [
      "--tls-key",
      "key.pem",
    ]]
  ) {
    const path = flag(execStart, name);
    assert.equal(path, `${DEFAULT_BUILD_ETC}/${file}`, `${name} in the unit`);
    assert.ok(baked.includes(path!), `the executable may read ${path}`);
  }
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  const container = await Deno.readTextFile(`${PROJECT_DIR}/deploy/Containerfile`);
  const read = container.match(/--allow-read=([^"]+)"/)![1].split(",");
  for (
    const [name, file] of [["--users", "users.json"], ["--tls-cert", "cert.pem"], [
      "--tls-key",
      "key.pem",
    ]]
  ) {
    const path = flag(container, `"${name}"`);
    assert.equal(path, `/etc/backup-server/${file}`);
    assert.ok(read.includes(path!));
  }
  // Every source folder the server imports is copied into the image (as `deno info` lists them).
  const info = await new Deno.Command(DENO, {
    args: ["info", "--json", `${PROJECT_DIR}/server.ts`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const modules: Array<{ specifier: string }> = JSON.parse(new TextDecoder().decode(info.stdout))
    .modules;
  const root = new URL(`file://${PROJECT_DIR}/`).href;
  const folders = new Set(
    modules.map((module) => module.specifier).filter((url) => url.startsWith(root))
      .map((url) => url.slice(root.length)).filter((path) => path.includes("/"))
      .map((path) => path.slice(0, path.indexOf("/"))),
  );
  assert.ok(folders.has("storage") && folders.has("repository"), [...folders].join(" "));
  for (const folder of folders) {
    assert.match(container, new RegExp(`^COPY ${folder} \\./${folder}$`, "m"), folder);
  }
  assert.match(container, new RegExp(`"--cached-only", "${SERVER_V8_ARG}"`), "its V8 flags");
});

Deno.test("the server runs with its shipped V8 flags wherever it starts: the tasks, the executable, the harness", async () => {
  assert.equal(SERVER_V8_ARG, `--v8-flags=${SERVER_V8_FLAGS.join(",")}`);
  assert.ok(SERVER_V8_FLAGS.includes("--max-semi-space-size=1"));
  const { tasks } = JSON.parse(await Deno.readTextFile(`${PROJECT_DIR}/deno.json`));
  for (const task of ["serve", "verify"]) {
    const words = (tasks[task] as string).split(" ");
    assert.ok(
      words.indexOf(SERVER_V8_ARG) >= 0 &&
        words.indexOf(SERVER_V8_ARG) < words.indexOf("server.ts"),
      `deno task ${task} runs with ${SERVER_V8_ARG}: ${tasks[task]}`,
    );
  }
  for (const s3 of [undefined, { endpoint: "https://s3.example.net", bucket: "b" }]) {
    const args = compileArgs({ program: "server", outDir: "d", s3 });
    assert.ok(
      args.indexOf(SERVER_V8_ARG) > 0 && args.indexOf(SERVER_V8_ARG) < args.indexOf("server.ts"),
    );
  }
  assert.ok(!compileArgs({ program: "client", outDir: "d" }).some((arg) => arg.startsWith("--v8")));
  if (Deno.build.os !== "linux") return;
  const root = await Deno.makeTempDir({ prefix: "backup-v8-flags-" });
  try {
    const server = await startServerProcess(root);
    try {
      const cmdline = await new Deno.Command("cat", { args: [`/proc/${server.pid}/cmdline`] })
        .output();
      const args = new TextDecoder().decode(cmdline.stdout).split("\0");
      assert.ok(args.includes(SERVER_V8_ARG), `the harness's server runs with ${SERVER_V8_ARG}`);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
