/**
 * A server rolled back (its root replaced by an older copy) is noticed by the client that made the
 * newer snapshot: one warning naming it, then the client goes on with what the server lists
 * (`--strict`: an error on every run until one without it). A snapshot this client forgets raises
 * none.
 */
import assert from "node:assert/strict";
import { clientWorkspace, keyedUsersFile } from "./_processes.ts";
import { startTestServer, type TestServer } from "./_helpers.ts";
import { TLS } from "./_v2.ts";

const USER = 7;

Deno.test("a server whose root went back to an older copy is noticed, once", async () => {
  await using w = await clientWorkspace("rollback-", { below: "work" });
  const usersFile = await keyedUsersFile(w, USER);
  const root = `${w.dir}/root`;
  await Deno.mkdir(root);
  let port = 0;
  const start = async () => {
    const server = await startTestServer({ tls: TLS, access: { usersFile }, root, port });
    port = server.port;
    return server;
  };
  const stop = (server: TestServer) => server[Symbol.asyncDispose]();
  const client = (...args: string[]) =>
    w.client(`--server=127.0.0.1:${port}`, `--user=${USER}`, `--ca=${TLS.certFile}`, ...args);
  const src = `${w.dir}/src`;
  await Deno.mkdir(src);
  await Deno.writeTextFile(`${src}/a.txt`, "one\n");

  let server = await start();
  assert.equal((await client("backup", src, "--host=h", "--quiet")).code, 0);
  await stop(server);
  const copy = `${w.dir}/root-copy`;
  await new Deno.Command("cp", { args: ["-a", root, copy] }).output();

  server = await start();
  await Deno.writeTextFile(`${src}/a.txt`, "two\n");
  const second = await client("backup", src, "--host=h", "--json");
  assert.equal(second.code, 0, second.stderr);
  const newest = JSON.parse(second.stdout.trim().split("\n").at(-1)!).snapshot as string;
  const quiet = await client("snapshots");
  assert.doesNotMatch(quiet.stderr, /no longer lists/);
  await stop(server);

  // The root goes back to the copy made before the second backup.
  await Deno.remove(root, { recursive: true });
  await Deno.rename(copy, root);
  server = await start();
  try {
    // --strict: an error, on every strict run (a backup too, before it sends anything), until a
    // run without it has taken the list as it is.
    for (const args of [["snapshots"], ["snapshots"], ["backup", src, "--host=h"]]) {
      const strict = await client(...args, "--strict");
      assert.equal(strict.code, 1, strict.stderr);
      assert.match(strict.stderr, new RegExp(`snapshot ${newest.slice(0, 8)} of host h.*--strict`));
    }
    const rolledBack = await client("snapshots");
    assert.equal(rolledBack.code, 0, rolledBack.stderr);
    assert.match(
      rolledBack.stderr,
      new RegExp(`no longer lists snapshot ${newest.slice(0, 8)} of host h`),
    );
    // Said once: the client now goes by what the server lists.
    assert.doesNotMatch((await client("snapshots")).stderr, /no longer lists/);
    const listed = await client("snapshots", "--strict", "--json");
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).length, 1, "the strict backup made no snapshot");
    // A snapshot this client forgets is no loss.
    assert.equal((await client("backup", src, "--host=h", "--quiet")).code, 0);
    assert.equal((await client("forget", "latest", "--host=h")).code, 0);
    assert.doesNotMatch((await client("snapshots")).stderr, /no longer lists/);
  } finally {
    await stop(server);
  }
});
