/**
 * Unread version 1 lists hold scratch files (their names, spooled at the server's pace); all of
 * them together hold at most the server's budget of scratch bytes: a list past it keeps its pages
 * in memory, a few at most, and every list gives its bytes back when it is disposed.
 */
import assert from "node:assert/strict";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const NAMES = 4000;
/** 4,000 names of 100 bytes: ~400 KB a list, four pages of 1,024 names. */
const nameOf = (i: number) => `f-${String(i).padStart(6, "0")}`.padEnd(100, "n");
const BUDGET = 600 * 1024;
const LIST_BYTES = NAMES * 101; // each name and its newline

/**
 * Bytes of the unlinked scratch files under `root` that this process holds open (Linux; read by a
 * shell, since Deno asks for every permission to read `/proc/self/fd`).
 */
async function scratchOnDisk(root: string): Promise<number> {
  const script = `for f in /proc/${Deno.pid}/fd/*; do case "$(readlink "$f")" in
    "$1"/*" (deleted)") stat -L -c %s "$f";; esac; done 2>/dev/null; true`;
  const { stdout } = await new Deno.Command("sh", { args: ["-c", script, "sh", root] }).output();
  const sizes = new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "");
  return sizes.reduce((sum, size) => sum + Number(size), 0) / 2; // a writer and a reader each
}

/** Polls `condition` until it holds, for at most 10 s. */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("lists that are not read hold at most the server's scratch budget, and give it back when disposed", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "backup-scratch-" }));
  try {
    const { storage } = await EmbeddedStorage.open({
      root,
      pruneIntervalMs: 0,
      listScratchBytes: BUDGET,
    });
    try {
      for (let at = 0; at < NAMES; at += 100) {
        await Promise.all(Array.from({ length: 100 }, async (_, j) => {
          await (await storage.beginUpload(1, nameOf(at + j), { size: 0 })).commit();
        }));
      }
      // A list nobody reads: all its names go to its scratch file, within the budget.
      using unread = await storage.list(1);
      await until(
        async () => await scratchOnDisk(root) === LIST_BYTES,
        "the first list is spooled",
      );
      // A second list, read: it passes the budget after a page, and its client gets every name.
      const second = await storage.list(1);
      const pages = second.pages[Symbol.asyncIterator]();
      const names: string[] = [];
      let mostOnDisk = 0;
      let tail = "";
      while (names.length < NAMES) {
        const { value, done } = await pages.next();
        assert.equal(done, false, `the list ended after ${names.length} names`);
        const lines = (tail + new TextDecoder().decode(value)).split("\n");
        tail = lines.pop()!;
        names.push(...lines);
        mostOnDisk = Math.max(mostOnDisk, await scratchOnDisk(root)); // the files are open still
      }
      assert.ok(
        mostOnDisk <= BUDGET,
        `two lists held ${mostOnDisk} bytes of scratch files, with a budget of ${BUDGET}`,
      );
      assert.ok(storage.listScratchBytes <= BUDGET);
      assert.equal((await pages.next()).done, true);
      assert.deepEqual(names, Array.from({ length: NAMES }, (_, i) => nameOf(i)));
      assert.equal(storage.listScratchBytes, LIST_BYTES, "the second list gave its bytes back");
      unread[Symbol.dispose]();
      assert.equal(storage.listScratchBytes, 0, "and so did the first, disposed unread");
      assert.equal(await scratchOnDisk(root), 0);
    } finally {
      await storage.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
