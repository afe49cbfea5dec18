import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import type { CommitStep } from "../storage/embedded/engine.ts";
import { sameBytes } from "./_helpers.ts";
import { startCrashProcess } from "./_crash_process.ts";
import { storedBytes, unreferencedFiles, versionCount } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Starts `_crash_server.ts` on `root`, pausing at `step`. */
function startCrashServer(root: string, step: CommitStep | "none") {
  return startCrashProcess("./_crash_server.ts", root, [step]);
}

const STEPS: CommitStep[] = ["data-durable", "indexed", "durable"];

for (const size of [1000, 300_000]) {
  for (const step of STEPS) {
    if (step === "data-durable" && size <= 64 * 1024) continue; // small files have no data file
    Deno.test(`SIGKILL at commit step ${step} (${size} bytes): the old or the new version, whole`, async () => {
      const root = await Deno.makeTempDir({ prefix: "backup-crash-step-" });
      try {
        const old = new Uint8Array(size).fill(1);
        const replacement = new Uint8Array(size + 7).fill(2);
        const first = await startCrashServer(root, "none");
        {
          using client = await BackupClient.connect({ userId: 1, port: first.port });
          await client.backup("target", ReadableStream.from([old]), old.length);
        }
        await first.kill();

        const paused = await startCrashServer(root, step);
        const client = await BackupClient.connect({ userId: 1, port: paused.port });
        const upload = client.backup(
          "target",
          ReadableStream.from([replacement]),
          replacement.length,
        )
          .then(() => "acknowledged", () => "lost");
        assert.equal(await paused.nextLine(), `paused at ${step}`);
        await paused.kill();
        assert.equal(await upload, "lost", "never acknowledged before the step");
        client.close();

        const restarted = await startCrashServer(root, "none");
        try {
          const stored = storedBytes(root, 1, "target")!;
          const isOld = sameBytes(stored, old);
          const isNew = sameBytes(stored, replacement);
          assert.ok(isOld || isNew, `one whole version (${stored.length} bytes)`);
          // Durable before the kill means there after it; not yet in the index means not there.
          if (step === "durable") assert.ok(isNew, "a durable commit survives");
          if (step === "data-durable") assert.ok(isOld, "a commit never made leaves the old");
          assert.equal(versionCount(root), isNew ? 2 : 1, "the old one kept as a past version");
          assert.deepEqual(await unreferencedFiles(root), [], "no orphan data file");
        } finally {
          await restarted.kill();
        }
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    });
  }
}
