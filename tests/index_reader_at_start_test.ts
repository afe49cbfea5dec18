import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { INDEX_FILE_NAME } from "../storage/embedded/engine.ts";
import { spawnServer } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** What the process's main thread waits in (`cat` reads it: Deno asks for all permissions for /proc). */
async function waitChannel(pid: number): Promise<string> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/task/${pid}/wchan`] })
    .output();
  return new TextDecoder().decode(stdout);
}

Deno.test("a server started while another program reads its new index waits for the reader", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-index-reader-" });
  // A program (an operator's sqlite3, a backup of the store) holds a read lock on the new index.
  const reader = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`);
  reader.exec("BEGIN");
  reader.prepare("SELECT count(*) FROM sqlite_master").get();
  try {
    let pid = 0;
    const started = spawnServer(["--root", root, "--port", "0"], {
      denoFlags: [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"],
      onSpawn: (spawned) => pid = spawned,
    });
    let exited: unknown;
    started.catch((error) => exited = error);
    // The switch to WAL needs the file to itself: the server must wait (SQLite's busy handler sleeps
    // between tries), not give up at once.
    const deadline = Date.now() + 30_000;
    while (!(await waitChannel(pid)).includes("nanosleep")) {
      assert.equal(exited, undefined, "the server gave up instead of waiting for the reader");
      assert.ok(Date.now() < deadline, "the server never waited for the index");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    reader.exec("COMMIT");
    await using server = await started;
    assert.ok(server.port > 0);
  } finally {
    if (reader.isTransaction) reader.exec("COMMIT");
    reader.close();
    await Deno.remove(root, { recursive: true });
  }
});
