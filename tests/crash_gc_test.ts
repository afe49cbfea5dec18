/**
 * SIGKILL at each step of garbage collection (`GarbageStep`), in a real server process: after a
 * restart, every acknowledged version is there byte for byte (one uploaded while the collection
 * was paused too), no pack is left that the index does not know, and verify finds nothing wrong.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../mod.ts";
import { bytesSource } from "../io/byte_stream.ts";
import type { GarbageStep } from "../storage/embedded/engine.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { storedBytes, unreferencedFiles } from "../harness/stored.ts";
import { sameBytes } from "./_helpers.ts";
import { startCrashProcess } from "./_crash_process.ts";
import { randomBytes } from "./_packs.ts";
import { MiB, rowCount, seededBytes, sharingPart } from "./_repository.ts";
import { AVERAGE_CHUNK_SIZE } from "../chunking/fastcdc.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Starts `_crash_gc_server.ts` on `root`, pausing at `step`. */
function startCrashGcServer(root: string, step: GarbageStep | "none") {
  return startCrashProcess("./_crash_gc_server.ts", root, [step, String(8 * AVERAGE_CHUNK_SIZE)]);
}

async function backup(client: BackupClient, name: string, bytes: Uint8Array) {
  await client.backup(name, bytesSource(bytes), bytes.length);
}

const STEPS: GarbageStep[] = ["empty-unindexed", "repack-written", "repack-indexed"];

for (const step of STEPS) {
  Deno.test(`SIGKILL at garbage step ${step}: every acknowledged version whole, no stray pack, verify clean`, async () => {
    const root = await Deno.makeTempDir({ prefix: "backup-crash-gc-" });
    try {
      // Packs of about 8 chunks: one of a's keeps b's few chunks (repacked), the others none.
      // Seeded: the chunks, and so which pack is mostly garbage, are the same on every run.
      const a = seededBytes(2101, 32 * AVERAGE_CHUNK_SIZE);
      const b = sharingPart(a, 16 * AVERAGE_CHUNK_SIZE, 6 * AVERAGE_CHUNK_SIZE, 2102);
      const c = randomBytes(2 * MiB);
      const first = await startCrashGcServer(root, "none");
      {
        using client = await BackupClient.connect({ userId: 1, port: first.port });
        await backup(client, "a", a);
        await backup(client, "b", b);
        await backup(client, "c", c);
        await client.delete("a"); // keepDays 0: its chunks are garbage from now on
      }
      await first.kill();

      const paused = await startCrashGcServer(root, step); // prunes at start, stops at `step`
      assert.equal(await paused.nextLine(), `paused at ${step}`);
      // Serving goes on while the collection waits: an upload that dedups against b's chunks.
      {
        using client = await BackupClient.connect({ userId: 1, port: paused.port });
        await backup(client, "d", b);
      }
      await paused.kill();

      const restarted = await startCrashGcServer(root, "none");
      try {
        assert.equal(await restarted.nextLine(), "settled", "the start-up prune finished");
        for (const [name, bytes] of [["b", b], ["c", c], ["d", b]] as const) {
          assert.ok(sameBytes(storedBytes(root, 1, name)!, bytes), `${name} whole`);
        }
        using client = await BackupClient.connect({ userId: 1, port: restarted.port });
        assert.deepEqual((await client.list()).sort(), ["b", "c", "d"]);
        assert.deepEqual(await unreferencedFiles(root), [], "no pack the index does not know");
        assert.ok(rowCount(root, "packs") > 0);
        const report = await verifyRoot({ root, data: "all" });
        assert.deepEqual(report.problems, []);
        assert.deepEqual(report.warnings, []);
      } finally {
        await restarted.kill();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
