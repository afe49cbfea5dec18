import assert from "node:assert/strict";
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeEntry, encodeResponseV2 } from "../protocol/v2/responses.ts";
import { infoOf, startFakeServerV2 } from "./_fake_server_v2.ts";
import { PROJECT_DIR } from "./_helpers.ts";
import { clientWorkspace } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A heap the client must stay within: far below what an unbounded list reaches. */
const HEAP_MIB = 768;
/** The client must have stopped by then (about 10-20 s on a busy 2-core machine). */
const LIMIT_SECONDS = 120;

/** Entries under `prefix` (or versions of `name`) that never end, in order, a batch at a time. */
function* endless(name: (i: number) => string): Generator<Uint8Array> {
  yield encodeResponseV2({ status: StatusV2.EntriesSent });
  const encoder = new TextEncoder();
  const info = infoOf({ size: 1 });
  for (let batch = 0;; batch++) {
    const entries: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      entries.push(encodeEntry({ name: encoder.encode(name(batch * 2000 + i)), info }));
    }
    const bytes = new Uint8Array(entries.reduce((sum, entry) => sum + entry.length, 0));
    let at = 0;
    for (const entry of entries) bytes.set(entry, at), at += entry.length;
    yield bytes;
  }
}

for (const command of [["list"], ["restore", "p/", "-o", "r"], ["versions", "p/a.txt"]]) {
  Deno.test(`an endless version 2 answer to ${command[0]} stops the client: exit 3, bounded heap`, async () => {
    await using w = await clientWorkspace("backup-list-bound-", { args: ["--user=1"] });
    assert.equal((await w.client("keygen")).code, 0);
    await using fake = startFakeServerV2((request) =>
      request.op === OpV2.Versions
        ? endless(() => "p/a.txt")
        : endless((i) => `p/${i.toString().padStart(9, "0")}`)
    );
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        `--config=${PROJECT_DIR}/deno.json`,
        "-P=client",
        `--v8-flags=--max-old-space-size=${HEAP_MIB}`,
        `${PROJECT_DIR}/client.ts`,
        "--user=1",
        `--server=127.0.0.1:${fake.port}`,
        ...command,
      ],
      cwd: w.dir,
      env: { ...w.options.env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A client that does not stop by itself is stopped here: the test fails, it does not hang.
    const limit = setTimeout(() => child.kill("SIGKILL"), LIMIT_SECONDS * 1000);
    const run = await child.output().finally(() => clearTimeout(limit));
    const seconds = (performance.now() - started) / 1000;
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 3, `exit ${run.code} after ${seconds.toFixed(1)} s: ${stderr}`);
    assert.match(stderr, /more than 2097152 entries without ending them/);
    assert.ok(seconds < LIMIT_SECONDS, `stopped only after ${seconds.toFixed(1)} s`);
  });
}
