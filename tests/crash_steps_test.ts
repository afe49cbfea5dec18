import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import type { CommitStep } from "../storage/embedded/engine.ts";
import { sameBytes } from "./_helpers.ts";
import { storedBytes, unreferencedFiles, versionCount } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Starts the crash server on `root`, pausing at `step`; resolves its port and process. */
async function startCrashServer(root: string, step: CommitStep | "none") {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-read=${root}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
      new URL("./_crash_server.ts", import.meta.url).pathname,
      root,
      step,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the crash server exited");
      buffered += value;
    }
    const line = buffered.slice(0, buffered.indexOf("\n"));
    buffered = buffered.slice(line.length + 1);
    return line;
  };
  const port = Number((await nextLine()).replace("port ", ""));
  return {
    port,
    nextLine,
    async kill() {
      child.kill("SIGKILL");
      await child.status;
      await lines.cancel();
    },
  };
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
