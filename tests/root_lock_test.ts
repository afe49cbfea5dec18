/**
 * One server per root: a second server on a root in use is refused before it touches anything
 * (its start-up sweep would delete the packs the first one is writing), and a root whose server
 * was killed opens at once (the kernel dropped the lock).
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { RootInUseError } from "../storage/embedded/root_lock.ts";
import { runCli, spawnServer } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a second open of a root in use is refused; after the first closes it opens", async () => {
  const root = await Deno.makeTempDir();
  try {
    const first = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    await assert.rejects(
      EmbeddedStorage.open({ root, pruneIntervalMs: 0 }),
      (error: Error) =>
        error instanceof RootInUseError &&
        error.message.includes(`in use by another server (process ${Deno.pid})`),
    );
    await first.storage.close();
    const second = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    await second.storage.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a second server process on a root in use exits 1 and names the first; a killed server's root opens", async () => {
  const root = await Deno.makeTempDir();
  const denoFlags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
  try {
    const first = await spawnServer(["--root", root, "--port", "0"], { denoFlags });
    {
      using client = await BackupClient.connect({ userId: 1, port: first.port });
      await client.backup("kept", ReadableStream.from([new TextEncoder().encode("kept")]), 4);
    }
    const second = await runCli("server.ts", ["--root", root, "--port", "0"], { denoFlags });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`in use by another server \\(process ${first.pid}\\)`));
    // The refused server removed nothing: the first still serves what it stored.
    {
      using client = await BackupClient.connect({ userId: 1, port: first.port });
      assert.deepEqual(await client.list(), ["kept"]);
    }
    await first.stop("SIGKILL");
    await using third = await spawnServer(["--root", root, "--port", "0"], { denoFlags });
    using client = await BackupClient.connect({ userId: 1, port: third.port });
    assert.deepEqual(await client.list(), ["kept"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a link planted as the lock file is refused, its target untouched", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(outside, "not the server's");
    await Deno.symlink(outside, `${root}/server.lock`);
    await assert.rejects(EmbeddedStorage.open({ root, pruneIntervalMs: 0 }), /symbolic link/);
    assert.equal(await Deno.readTextFile(outside), "not the server's");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside);
  }
});
