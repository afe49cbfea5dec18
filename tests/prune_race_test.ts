/**
 * Backups racing prunes on one server (issue 21): clients upload new versions that reuse most
 * chunks of versions being removed at that moment, while the server's prune (past versions, then
 * garbage collection) runs again and again. Nothing acknowledged may be lost: every current version
 * restores byte for byte, and `verifyRoot` finds nothing wrong.
 *
 * Each client renames a large file at every round, as `backup --delete` does for a file moved on
 * disk: the new name's upload reuses all but 1 MiB of the old name's chunks, and in the middle of
 * that upload (its first chunks already found in the index), the old name is deleted on a second
 * connection, retention moves past it, and a whole prune runs. The chunks the upload counts on are
 * then named by no version: only its pins keep garbage collection off them. Each client also
 * replaces a file of its own under one name at every round (the past versions the prunes remove).
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import type { ByteSink, ByteSource } from "../io/byte_stream.ts";
import { unreferencedFiles } from "../harness/stored.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import type { Storage } from "../storage/storage.ts";
import { concat, sameBytes, startTestServer } from "./_helpers.ts";
import { MiB, rowCount, seededBytes } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DAY_MS = 86_400_000;
const CLIENTS = 4;
const ROUNDS = 5;
const FILE_BYTES = 6 * MiB;

/** A source of `bytes` that awaits `atHalf` once, when half of them have been read. */
function pausingSource(bytes: Uint8Array, atHalf: () => Promise<void>): ByteSource {
  let offset = 0;
  let paused = false;
  return {
    async read(buffer) {
      if (offset === bytes.length) return null;
      if (!paused && offset >= bytes.length / 2) {
        paused = true;
        await atHalf();
      }
      const end = Math.min(
        bytes.length,
        offset + buffer.length,
        paused ? Infinity : bytes.length / 2,
      );
      buffer.set(bytes.subarray(offset, end));
      const count = end - offset;
      offset = end;
      return count;
    },
  };
}

/** A copy of `bytes` with 1 MiB at a place chosen by `seed` replaced by bytes of that seed. */
function edited(bytes: Uint8Array, seed: number): Uint8Array {
  const out = bytes.slice();
  const at = (seed * 1_048_573) % (bytes.length - MiB);
  out.set(seededBytes(seed, MiB), at);
  return out;
}

/** Retrieves a whole file over the protocol. */
async function retrieved(client: BackupClient, name: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = {
    write(bytes) {
      parts.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
  };
  await client.retrieve(name, sink);
  return concat(...parts);
}

/** Runs the server's prune again and again until `stop`; see `nextPrune`. */
function pruneOverAndOver(storage: Storage) {
  let running = true;
  let next = Promise.withResolvers<void>();
  let prunes = 0;
  let versions = 0;
  const loop = (async () => {
    while (running) {
      const finishing = next;
      next = Promise.withResolvers<void>();
      versions += await storage.prune();
      prunes++;
      finishing.resolve();
      // A prune that finds nothing to do never leaves the microtask queue: give the event loop
      // (the connections) a turn between two.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    next.resolve();
  })();
  return {
    /** Resolves at the end of the next prune to start. */
    nextPrune: () => next.promise,
    /** Stops after the prune under way; resolves how many ran and the versions they removed. */
    async stop() {
      running = false;
      await loop;
      return { prunes, versions };
    },
  };
}

Deno.test("backups that reuse the chunks of versions being pruned lose nothing while prunes run again and again", async () => {
  let clock = Date.UTC(2026, 0, 1);
  await using t = await startTestServer({
    retention: { keepDays: 1 },
    pruneIntervalMs: 0,
    packTargetBytes: 2 * MiB,
    now: () => clock,
  });
  const acknowledged = new Map<string, Uint8Array>(); // `${user}:${name}` -> bytes
  const clients: Array<{ userId: number; uploader: BackupClient; deleter: BackupClient }> = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const userId = 1 + (i % 2);
      clients.push({
        userId,
        uploader: await BackupClient.connect({ userId, port: t.port }),
        deleter: await BackupClient.connect({ userId, port: t.port }),
      });
    }
    const pruning = pruneOverAndOver(t.server.storage);
    const backups = await Promise.allSettled(
      clients.map(async ({ userId, uploader, deleter }, i) => {
        const put = async (name: string, bytes: Uint8Array, atHalf = () => Promise.resolve()) => {
          await uploader.backup(name, pausingSource(bytes, atHalf), bytes.length);
          acknowledged.set(`${userId}:${name}`, bytes);
        };
        let moved = seededBytes(1000 + i, FILE_BYTES);
        let log = seededBytes(2000 + i, FILE_BYTES);
        await put(`c${i}/moved-0`, moved);
        for (let round = 1; round <= ROUNDS; round++) {
          const before = `c${i}/moved-${round - 1}`;
          moved = edited(moved, 10_000 * i + round);
          await put(`c${i}/moved-${round}`, moved, async () => {
            await deleter.delete(before);
            acknowledged.delete(`${userId}:${before}`);
            clock += 2 * DAY_MS; // every past version so far has expired
            await pruning.nextPrune();
          });
          log = edited(log, 20_000 * i + round);
          await put(`c${i}/log`, log);
        }
      }),
    );
    const pruned = await pruning.stop();
    for (const backup of backups) if (backup.status === "rejected") throw backup.reason;
    assert.ok(pruned.prunes >= ROUNDS, `prunes ran meanwhile (${pruned.prunes})`);
    assert.ok(pruned.versions >= CLIENTS * ROUNDS, `they removed versions (${pruned.versions})`);

    clock += 2 * DAY_MS;
    await t.server.storage.prune();
    assert.equal(acknowledged.size, 2 * CLIENTS);
    for (const [key, bytes] of acknowledged) {
      const userId = Number(key.slice(0, key.indexOf(":")));
      const name = key.slice(key.indexOf(":") + 1);
      const client = clients.find((c) => c.userId === userId)!.uploader;
      assert.ok(sameBytes(await retrieved(client, name), bytes), `${name} of ${userId} restores`);
    }
    assert.equal(rowCount(t.root, "released_chunks"), 0);
    assert.deepEqual(await unreferencedFiles(t.root), [], "no pack is left that nothing indexes");
    const report = await verifyRoot({ root: t.root, data: "all" });
    assert.deepEqual(report.problems, [], "verify finds nothing wrong");
  } finally {
    for (const { uploader, deleter } of clients) {
      uploader.close();
      deleter.close();
    }
  }
});
