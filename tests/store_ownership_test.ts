/**
 * Who closes the store: the server serves the store it is given and never closes it; whoever
 * opened it closes it after the server (`openServer`, which the server's command line runs).
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { startServer } from "../server/server.ts";
import { createLogger } from "../server/log.ts";
import { openServer } from "../cli/open_server.ts";
import { utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const quiet = () => createLogger({ writeLine: () => {} });

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "backup-test-owner-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function backupHello(port: number): Promise<void> {
  const client = await BackupClient.connect({ userId: 7, port });
  try {
    await client.backup("hello.txt", ReadableStream.from([utf8("hi")]), 2);
  } finally {
    client.close();
  }
}

Deno.test("a server leaves the store it was given open: after close the store still answers, and its opener closes it", async () => {
  await withRoot(async (root) => {
    const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    try {
      const server = await startServer({ storage, port: 0, logger: quiet() });
      assert.equal(server.root, storage.location);
      await backupHello(server.addr.port);
      await server.close();
      await server.finished;
      assert.equal((await storage.stat(7, "hello.txt"))?.size, 2, "still open after the server");
    } finally {
      await storage.close();
    }
  });
});

Deno.test("a server that cannot listen leaves the store it was given open", async () => {
  await withRoot(async (root) => {
    const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await assert.rejects(
        startServer({ storage, port: taken.addr.port, logger: quiet() }),
        Deno.errors.AddrInUse,
      );
      assert.equal(await storage.usage(7), 0, "still open");
    } finally {
      await storage.close();
    }
  });
});

Deno.test("openServer closes the store it opened, once, after the server", async () => {
  await withRoot(async (root) => {
    const server = await openServer({ root, port: 0, logger: quiet() });
    await backupHello(server.addr.port);
    const storage = server.storage;
    assert.equal((await storage.stat(7, "hello.txt"))?.size, 2);
    await Promise.all([server.close(), server.close(), server.finished]);
    await assert.rejects(async () => await storage.usage(7), "the store answers no more: closed");
    // A second close neither closes the store again nor fails.
    await server.close();
    await server.finished;
  });
});

Deno.test("openServer whose server cannot listen closes the store it opened at once", async () => {
  await withRoot(async (root) => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    // The store's background prune timer and hash workers would trip the sanitizers if left open.
    await assert.rejects(
      openServer({ root, port: taken.addr.port, logger: quiet() }),
      Deno.errors.AddrInUse,
    );
    const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0 });
    assert.equal(await storage.usage(7), 0, "the root opens again");
    await storage.close();
  });
});
