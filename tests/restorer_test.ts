/**
 * The restorer (client/snapshot/restorer.ts): snapshots built by hand into memory, restored into
 * real temporary folders, checked with `lstat`.
 */
import assert from "node:assert/strict";
import { restore, RestoreError, UnsafeSnapshotError } from "../client/snapshot/restorer.ts";
import type { RestoreProgress } from "../client/snapshot/restorer.ts";
import { creatorUid, OwnerResolver } from "../client/snapshot/restore_owners.ts";
import { encodeTree, type TreeEntry } from "../protocol/v3/tree.ts";
import { blobIdOf } from "./_memory_blobs.ts";
import { TreeBuilder, UncheckedSource } from "./_tree_builder.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T1 = 1_500_000_000_123;
const T2 = 1_400_000_000_456;
const T3 = 1_300_000_000_789;

async function withTarget(run: (target: string, outside: string) => Promise<void>) {
  const top = await Deno.makeTempDir({ prefix: "restorer-" });
  await Deno.mkdir(`${top}/target`);
  await Deno.mkdir(`${top}/outside`);
  try {
    await run(`${top}/target`, `${top}/outside`);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}

const mode = async (path: string) => (await Deno.lstat(path)).mode! & 0o7777;
const mtime = async (path: string) => (await Deno.lstat(path)).mtime!.getTime();
const atime = async (path: string) => (await Deno.lstat(path)).atime!.getTime();

async function listAll(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    names.push(prefix + entry.name);
    if (entry.isDirectory) {
      names.push(...await listAll(`${dir}/${entry.name}`, `${prefix}${entry.name}/`));
    }
  }
  return names.sort();
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) (out.set(part, at), at += part.length);
  return out;
}

const IS_ROOT = await (async () => {
  const dir = await Deno.makeTempDir();
  try {
    return (await creatorUid(dir)) === 0;
  } finally {
    await Deno.remove(dir);
  }
})();

Deno.test("contents, modes and times of files, folders and links come back as they were", async () => {
  const b = new TreeBuilder();
  const big = new Uint8Array(200_000).map((_, i) => i * 7);
  const root = b.tree([
    b.dir(".ssh", [
      b.file("id_ed25519", ["secret"], { mode: 0o600, mtimeMs: T1, atimeMs: T2 }),
      b.file("authorized_keys", ["ssh-ed25519 AAAA"], { mode: 0o644, mtimeMs: T2, atimeMs: T2 }),
    ], { mode: 0o700, mtimeMs: T3, atimeMs: T3 }),
    b.file("big.bin", [big.subarray(0, 70_000), big.subarray(70_000), big.subarray(0, 70_000)], {
      mtimeMs: T2,
      atimeMs: T1,
    }),
    b.file("empty", [], { mode: 0o640, mtimeMs: T1, atimeMs: T1 }),
    b.file("run.sh", ["#!/bin/sh\n"], { mode: 0o755, mtimeMs: T1, atimeMs: T1 }),
    b.link("to-big", "big.bin", { mtimeMs: T3, atimeMs: T2 }),
    b.link("dangling", "/nowhere/at/all", { mtimeMs: T2, atimeMs: T2 }),
    b.dir("empty-dir", [], { mode: 0o750, mtimeMs: T2, atimeMs: T2 }),
    b.dir("read-only", [b.file("inside", ["x"], { mode: 0o444, mtimeMs: T3, atimeMs: T3 })], {
      mode: 0o555,
      mtimeMs: T1,
      atimeMs: T1,
    }),
  ]);
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target });
    assert.deepEqual(
      { files: report.files, dirs: report.dirs, symlinks: report.symlinks, bytes: report.bytes },
      { files: 6, dirs: 3, symlinks: 2, bytes: 270_000 + 6 + 16 + 10 + 1 },
    );
    assert.equal((await Deno.readFile(`${target}/empty`)).length, 0);
    assert.equal(await mode(`${target}/.ssh`), 0o700);
    assert.equal(await mode(`${target}/.ssh/id_ed25519`), 0o600);
    assert.equal(await mode(`${target}/run.sh`), 0o755);
    assert.equal(await mode(`${target}/empty`), 0o640);
    assert.equal(await mode(`${target}/empty-dir`), 0o750);
    assert.equal(await mode(`${target}/read-only`), 0o555);
    assert.equal(await mode(`${target}/read-only/inside`), 0o444);
    assert.equal(await mtime(`${target}/.ssh/id_ed25519`), T1);
    assert.equal(await atime(`${target}/.ssh/id_ed25519`), T2);
    assert.equal(await atime(`${target}/big.bin`), T1, "not moved by the restore's own reads");
    // Folders' times are set after their contents were written.
    assert.equal(await mtime(`${target}/.ssh`), T3);
    assert.equal(await mtime(`${target}/read-only`), T1);
    assert.equal(await mtime(`${target}/empty-dir`), T2);
    // Links: made as links, their own times, never followed.
    assert.equal(await Deno.readLink(`${target}/to-big`), "big.bin");
    assert.equal(await Deno.readLink(`${target}/dangling`), "/nowhere/at/all");
    assert.equal(await mtime(`${target}/to-big`), T3);
    assert.equal(await mtime(`${target}/dangling`), T2);
    assert.equal(await mtime(`${target}/big.bin`), T2, "the link's time did not go to its target");
    // Contents last: reading a file moves its access time.
    assert.equal(await Deno.readTextFile(`${target}/.ssh/id_ed25519`), "secret");
    assert.deepEqual(
      await Deno.readFile(`${target}/big.bin`),
      concat(big, big.subarray(0, 70_000)),
    );
    assert.ok(!(await listAll(target)).some((n) => n.includes(".restore-")));
  });
});

Deno.test("times before 1970 come back too (a link's to the second)", async () => {
  const b = new TreeBuilder();
  const old = -86_400_123;
  const root = b.tree([
    b.file("f", ["x"], { mtimeMs: old, atimeMs: old }),
    b.dir("d", [], { mtimeMs: old, atimeMs: old }),
    b.link("l", "f", { mtimeMs: old, atimeMs: old }),
  ]);
  await withTarget(async (target) => {
    await restore(b.blobs, root, { target });
    assert.equal(await mtime(`${target}/f`), old);
    assert.equal(await mtime(`${target}/d`), old);
    assert.equal(await mtime(`${target}/l`), -86_401_000);
  });
});

Deno.test("each chunk is fetched once per batch and written at every offset that uses it", async () => {
  const b = new TreeBuilder();
  const [x, y, z] = ["x".repeat(1000), "y".repeat(2000), "z".repeat(3000)];
  const root = b.tree([
    b.file("a", [x, y, x, x]),
    b.file("b", [y, z, y]),
    b.dir("d", [b.file("c", [z, x]), b.file("e", [x])]),
  ]);
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target });
    assert.equal(await Deno.readTextFile(`${target}/a`), x + y + x + x);
    assert.equal(await Deno.readTextFile(`${target}/b`), y + z + y);
    assert.equal(await Deno.readTextFile(`${target}/d/c`), z + x);
    assert.equal(await Deno.readTextFile(`${target}/d/e`), x);
    assert.equal(report.chunksFetched, 3);
    assert.equal(report.chunksCopied, 10 - 3);
    assert.equal(b.blobs.counts.gets - report.treesFetched, 3, "data gets");
    assert.equal(report.treesFetched, 2, "each tree fetched once over both passes");
  });
  await withTarget(async (target) => {
    // No room to keep trees between the passes: each is fetched again, the result the same.
    const report = await restore(b.blobs, root, { target, treeCacheBytes: 1 });
    assert.equal(await Deno.readTextFile(`${target}/d/c`), z + x);
    assert.equal(report.treesFetched, 3);
  });
});

Deno.test("a file of many chunk references is written in bounded batches", async () => {
  const b = new TreeBuilder();
  const chunks = ["a", "bb", "ccc", "dddd", "eeeee"];
  const parts = Array.from({ length: 20_000 }, (_, i) => chunks[(i * 7) % 5]);
  const root = b.tree([b.file("1-many", parts), b.file("2-after", ["a", "zz"])]);
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target, maxBatchRefs: 1000 });
    assert.equal(await Deno.readTextFile(`${target}/1-many`), parts.join(""));
    assert.equal(await Deno.readTextFile(`${target}/2-after`), "azz");
    assert.equal(report.batches, 21);
    // Once per batch: never more than the distinct chunks of each batch.
    assert.equal(report.chunksFetched, 20 * 5 + 2);
  });
});

Deno.test("many gets are in flight at once", async () => {
  const b = new TreeBuilder();
  const root = b.tree(Array.from({ length: 40 }, (_, i) => b.file(`f${i}`, [`content ${i}`])));
  let inFlight = 0;
  let most = 0;
  const source = {
    get: async (id: string, kind: "data" | "tree") => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
      return b.blobs.get(id, kind);
    },
  };
  await withTarget(async (target) => {
    await restore(source, root, { target, concurrency: 8 });
    assert.equal(most, 8);
    assert.equal(await Deno.readTextFile(`${target}/f39`), "content 39");
  });
});

Deno.test("hard links of one snapshot come back as one inode with several names", async () => {
  const b = new TreeBuilder();
  const shared = { inode: 77, device: 5, links: 3, mtimeMs: T1, atimeMs: T1 };
  const root = b.tree([
    b.file("a", ["same bytes"], shared),
    b.dir("d", [b.file("b", ["same bytes"], shared)]),
    b.dir("e", [b.file("c", ["same bytes"], shared)]),
    // Same inode, other contents (changed between reads): a separate copy.
    b.file("f", ["other bytes"], shared),
    b.file("g", ["same bytes"], { ...shared, inode: 78 }),
  ]);
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target });
    const ino = async (name: string) => (await Deno.lstat(`${target}/${name}`)).ino;
    assert.equal(await ino("d/b"), await ino("a"));
    assert.equal(await ino("e/c"), await ino("a"));
    assert.equal((await Deno.lstat(`${target}/a`)).nlink, 3);
    assert.notEqual(await ino("f"), await ino("a"));
    assert.notEqual(await ino("g"), await ino("a"));
    assert.equal(await Deno.readTextFile(`${target}/f`), "other bytes");
    assert.equal(report.hardLinks, 2);
    assert.equal(report.files, 3);
  });
  await withTarget(async (target) => {
    // Room for one inode only: the second inode's names are copies, said once.
    const shared2 = { ...shared, inode: 79, links: 2 };
    const two = b.tree([
      b.file("a", ["one"], { ...shared, links: 3 }),
      b.file("b", ["two"], shared2),
      b.file("c", ["one"], { ...shared, links: 3 }),
      b.file("d", ["two"], shared2),
    ]);
    const report = await restore(b.blobs, two, { target, maxHardLinkInodes: 1 });
    const ino = async (name: string) => (await Deno.lstat(`${target}/${name}`)).ino;
    assert.equal(await ino("c"), await ino("a"));
    assert.notEqual(await ino("d"), await ino("b"));
    assert.equal(await Deno.readTextFile(`${target}/d`), "two");
    assert.equal(report.warnings.length, 1);
  });
});

Deno.test("a path in the snapshot restores that folder's contents, or that one file", async () => {
  const b = new TreeBuilder();
  const root = b.tree([
    b.dir("home", [b.dir("u", [b.file("notes", ["n"]), b.dir("docs", [b.file("d", ["d"])])])]),
    b.file("top", ["t"]),
  ]);
  await withTarget(async (target) => {
    await restore(b.blobs, root, { target: `${target}/1`, subPath: "/home/u" });
    assert.deepEqual(await listAll(`${target}/1`), ["docs", "docs/d", "notes"]);
    await restore(b.blobs, root, { target: `${target}/2`, subPath: "home/u/docs/d" });
    assert.deepEqual(await listAll(`${target}/2`), ["d"]);
    await assert.rejects(
      restore(b.blobs, root, { target: `${target}/3`, subPath: "/home/nobody" }),
      (error: Error) =>
        error instanceof RestoreError && /\/home\/nobody: not in/.test(error.message),
    );
    await assert.rejects(
      restore(b.blobs, root, { target: `${target}/3`, subPath: "/top/x" }),
      /\/top: not a folder/,
    );
  });
});

Deno.test("include and exclude select what is restored; folders are made only around it", async () => {
  const b = new TreeBuilder();
  const root = b.tree([
    b.dir("home", [
      b.dir("u", [
        b.dir(".ssh", [b.file("id", ["k"]), b.file("id.tmp", ["t"])], { mode: 0o700 }),
        b.file("notes.txt", ["n"]),
        b.dir("cache", [b.file("blob.txt", ["c"])]),
      ]),
    ]),
    b.dir("etc", [b.file("hosts", ["h"])]),
  ]);
  await withTarget(async (target) => {
    await restore(b.blobs, root, {
      target: `${target}/1`,
      include: ["/home/*/.ssh", "*.txt"],
      exclude: ["*.tmp", "/home/u/cache"],
    });
    assert.deepEqual(await listAll(`${target}/1`), [
      "home",
      "home/u",
      "home/u/.ssh",
      "home/u/.ssh/id",
      "home/u/notes.txt",
    ]);
    assert.equal(await mode(`${target}/1/home/u/.ssh`), 0o700);
    await restore(b.blobs, root, { target: `${target}/2`, exclude: ["home"] });
    assert.deepEqual(await listAll(`${target}/2`), ["etc", "etc/hosts"]);
  });
});

Deno.test("overwrite: always replaces files and links, never leaves what is there", async () => {
  const b = new TreeBuilder();
  const root = b.tree([b.file("f", ["new"]), b.link("l", "new-target"), b.file("g", ["g"])]);
  await withTarget(async (target) => {
    await Deno.writeTextFile(`${target}/f`, "old");
    await Deno.symlink("old-target", `${target}/l`);
    const kept = await restore(b.blobs, root, { target, overwrite: "never" });
    assert.equal(kept.skipped, 2);
    assert.equal(await Deno.readTextFile(`${target}/f`), "old");
    assert.equal(await Deno.readLink(`${target}/l`), "old-target");
    assert.equal(await Deno.readTextFile(`${target}/g`), "g");
    await restore(b.blobs, root, { target });
    assert.equal(await Deno.readTextFile(`${target}/f`), "new");
    assert.equal(await Deno.readLink(`${target}/l`), "new-target");
    // A folder where a file goes is an error, never removed.
    await Deno.remove(`${target}/g`);
    await Deno.mkdir(`${target}/g`);
    await Deno.writeTextFile(`${target}/g/keep`, "k");
    const report = await restore(b.blobs, root, { target });
    assert.equal(report.failed, 1);
    assert.match(
      `${report.errors[0].name}: ${report.errors[0].message}`,
      /^RestoreError: g: a folder is in the way/,
    );
    assert.equal(await Deno.readTextFile(`${target}/g/keep`), "k");
  });
});

Deno.test("progress counts files and bytes of the totals, with the current file", async () => {
  const b = new TreeBuilder();
  const root = b.tree([
    b.file("a", ["12345"]),
    b.dir("d", [b.file("b", ["678", "90"])]),
    b.link("l", "a"),
  ]);
  const events: RestoreProgress[] = [];
  await withTarget(async (target) => {
    await restore(b.blobs, root, { target, onProgress: (event) => events.push(event) });
  });
  const last = events.at(-1)!;
  assert.deepEqual(
    { ...last, currentFile: undefined },
    {
      phase: "done",
      filesDone: 3,
      filesTotal: 3,
      bytesDone: 10,
      bytesTotal: 10,
      currentFile: undefined,
    },
  );
  assert.ok(events.some((e) => e.phase === "restoring" && e.currentFile === "d/b"));
  assert.ok(events.every((e) => e.phase === "scanning" || e.filesTotal === 3));
});

Deno.test("an aborted restore stops, leaves no temporary file and rejects with the reason", async () => {
  const b = new TreeBuilder();
  const big = "x".repeat(10_000);
  const root = b.tree(Array.from({ length: 50 }, (_, i) => b.file(`f${i}`, [big, `${i}`])));
  const controller = new AbortController();
  const reason = new Error("interrupted");
  await withTarget(async (target) => {
    await assert.rejects(
      restore(b.blobs, root, {
        target,
        maxBatchFiles: 10,
        signal: controller.signal,
        onProgress: (event) => {
          if (event.filesDone === 15) controller.abort(reason);
        },
      }),
      (error) => error === reason,
    );
    const left = await listAll(target);
    assert.ok(left.length >= 15 && left.length < 50, `${left.length} files in place`);
    assert.ok(left.every((name) => /^f\d+$/.test(name)), left.join(" "));
  });
});

// --- A hostile server or tree ---

Deno.test("a tree with duplicate names, or names with / or .., is refused; nothing is written outside", async () => {
  const b = new TreeBuilder();
  await withTarget(async (target, outside) => {
    const inner = b.tree([b.file("x", ["pwned"])]);
    const entry = (name: string, rest: string) => `{"name":${JSON.stringify(name)},${rest}`;
    const meta =
      `"mode":493,"mtimeMs":1,"atimeMs":1,"uid":0,"gid":0,"inode":1,"device":1,"links":1`;
    const hostile = [
      // a link to outside, then a folder of the same name holding a file
      `{"entries":[${entry("a", `"type":"symlink",${meta},"target":${JSON.stringify(outside)}}`)},${
        entry("a", `"type":"dir",${meta},"subtree":"${inner}"}`)
      }]}`,
      `{"entries":[${entry("../x", `"type":"dir",${meta},"subtree":"${inner}"}`)}]}`,
      `{"entries":[${entry("a/b", `"type":"dir",${meta},"subtree":"${inner}"}`)}]}`,
      `{"entries":[${entry("..", `"type":"dir",${meta},"subtree":"${inner}"}`)}]}`,
      `{"entries":[${entry("fifo", `"type":"fifo",${meta}}`)}]}`,
    ];
    for (const text of hostile) {
      const root = b.raw(new TextEncoder().encode(text));
      await assert.rejects(
        restore(b.blobs, root, { target }),
        (error: Error) =>
          error instanceof RestoreError &&
          /CorruptTreeError|not a name|two entries|unknown type/.test(error.message + error.cause),
        text,
      );
    }
    // The same, one folder down (read by the walk, not at the root).
    const nested = b.raw(new TextEncoder().encode(hostile[0]));
    const root = b.tree([b.dir("ok", [b.file("x", ["x"])]), {
      ...b.dir("z", []),
      subtree: nested,
    }]);
    // A damaged tree below the root is that folder's failure: the rest is restored.
    const report = await restore(b.blobs, root, { target });
    assert.equal(report.failed, 1);
    const [error] = report.errors;
    assert.ok(error.path === "z" && /two entries/.test(error.message), error.message);
    assert.deepEqual(await listAll(outside), []);
    assert.deepEqual(await listAll(target), ["ok", "ok/x", "z"]);
  });
});

Deno.test("a link planted in the target where a folder goes is replaced, never followed", async () => {
  const b = new TreeBuilder();
  const root = b.tree([b.dir("a", [b.file("x", ["mine"])])]);
  await withTarget(async (target, outside) => {
    await Deno.symlink(outside, `${target}/a`);
    await restore(b.blobs, root, { target });
    assert.ok((await Deno.lstat(`${target}/a`)).isDirectory);
    assert.equal(await Deno.readTextFile(`${target}/a/x`), "mine");
    assert.deepEqual(await listAll(outside), []);
  });
});

/** Whether a file in `dir` holds bytes yet. */
async function written(dir: string): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    if ((await Deno.lstat(`${dir}/${entry.name}`)).size > 0) return true;
  }
  return false;
}

Deno.test("in a folder the restore made, files are written under their names while it is private", async () => {
  // No temporary name and rename per file (half the directory operations of a restore of small
  // files): the folder is made 0700, so no one else sees a file before it is complete.
  const b = new TreeBuilder();
  const root = b.tree([b.dir("d", [b.file("a", ["first"]), b.file("b", ["second"])])]);
  const second = blobIdOf(new TextEncoder().encode("second"));
  let seen: { names: string[]; mode: number } | undefined;
  const source = {
    get: async (id: string, kind: "data" | "tree") => {
      // Gets run ahead of the writes: once "a"'s bytes are written ("b" is then open), look.
      if (id === second) {
        const deadline = Date.now() + 10_000;
        while (!(await written(`${target}/d`)) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        seen = { names: await listAll(`${target}/d`), mode: await mode(`${target}/d`) };
      }
      return await b.blobs.get(id, kind);
    },
  };
  let target = "";
  await withTarget(async (into) => {
    target = into;
    // Written here, not by file workers (which write a group at a time): "a" before "b".
    await restore(source, root, { target, fileWorkers: 0 });
    assert.deepEqual(seen, { names: ["a", "b"], mode: 0o700 });
    assert.equal(await Deno.readTextFile(`${target}/d/b`), "second");
    assert.equal(await mode(`${target}/d`), 0o755);
  });
});

Deno.test("a link planted under a file's name in a folder the restore made is replaced, never followed", async () => {
  const b = new TreeBuilder();
  const root = b.tree([b.dir("d", [b.file("f", ["mine"])])]);
  const chunk = blobIdOf(new TextEncoder().encode("mine"));
  await withTarget(async (target, outside) => {
    await Deno.writeTextFile(`${outside}/victim`, "theirs");
    const source = {
      get: async (id: string, kind: "data" | "tree") => {
        // Someone with the folder's rights plants a link before the file is made (at once: the
        // gets start before the batch's files are opened).
        if (id === chunk) Deno.symlinkSync(`${outside}/victim`, `${target}/d/f`);
        return await b.blobs.get(id, kind);
      },
    };
    await restore(source, root, { target });
    assert.ok((await Deno.lstat(`${target}/d/f`)).isFile);
    assert.equal(await Deno.readTextFile(`${target}/d/f`), "mine");
    assert.equal(await Deno.readTextFile(`${outside}/victim`), "theirs");
    assert.deepEqual(await listAll(target), ["d", "d/f"], "no temporary file left");
  });
});

Deno.test("a folder naming its own ancestor is refused as a loop", async () => {
  const source = new UncheckedSource();
  const meta = {
    mode: 0o755,
    mtimeMs: 1,
    atimeMs: 1,
    uid: 0,
    gid: 0,
    inode: 1,
    device: 1,
    links: 1,
  };
  const [one, two] = ["1".repeat(64), "2".repeat(64)];
  source.blobs.set(
    one,
    encodeTree({ entries: [{ ...meta, name: "down", type: "dir", subtree: two }] }),
  );
  source.blobs.set(
    two,
    encodeTree({ entries: [{ ...meta, name: "up", type: "dir", subtree: one }] }),
  );
  await withTarget(async (target) => {
    await assert.rejects(
      restore(source, one, { target }),
      (error: Error) =>
        error instanceof UnsafeSnapshotError &&
        error.message === "down/up: the folder names one of its own ancestors (a loop)",
    );
    assert.ok(source.gets < 10, `${source.gets} gets`);
  });
});

Deno.test("folders naming one tree again and again: refused at maxEntries, and Ctrl-C stops the walk", async () => {
  // 40 trees of two folders naming the same subtree: 2^40 entries in a few KiB.
  const b = new TreeBuilder();
  let entries: TreeEntry[] = [b.file("f", [])];
  for (let i = 0; i < 40; i++) {
    const subtree = b.tree(entries);
    entries = [b.dir("a", []), b.dir("b", [])].map((dir) => ({ ...dir, subtree }));
  }
  const root = b.tree(entries);
  await withTarget(async (target) => {
    await assert.rejects(
      restore(b.blobs, root, { target, maxEntries: 50_000 }),
      (error: Error) =>
        error instanceof UnsafeSnapshotError && /more than 50000 entries/.test(error.message),
    );
  });
  // With the default bound (minutes of walking here), the walk still lets signals in: an abort
  // as the scan starts ends it, and a timer queued meanwhile gets its turn.
  await withTarget(async (target) => {
    const controller = new AbortController();
    let timerRan = false;
    const restoring = restore(b.blobs, root, {
      target,
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.phase !== "scanning" || controller.signal.aborted) return;
        setTimeout(() => {
          timerRan = true;
          controller.abort(new Error("interrupted"));
        }, 0);
      },
    });
    await assert.rejects(restoring, /interrupted/);
    assert.ok(timerRan);
  });
});

Deno.test("folders nested past maxDepth are refused", async () => {
  const b = new TreeBuilder();
  let entries: TreeEntry[] = [b.file("deep", ["x"])];
  for (let i = 0; i < 30; i++) entries = [b.dir(`d${i}`, entries)];
  const root = b.tree(entries);
  await withTarget(async (target) => {
    await assert.rejects(restore(b.blobs, root, { target, maxDepth: 10 }), UnsafeSnapshotError);
    await assert.rejects(
      restore(b.blobs, root, { target, maxPathTreeBytes: 2000 }),
      /bytes of trees along one path/,
    );
    await restore(b.blobs, root, { target, maxDepth: 31 });
  });
});

Deno.test("a declared size that does not match the chunks is an error naming the file, nothing left", async () => {
  const b = new TreeBuilder();
  const huge = b.file("huge", ["small"], {});
  const short = b.file("short", ["0123456789"], {});
  for (
    const [entry, reason] of [
      [
        { ...huge, size: 2 ** 52 },
        /^RestoreError: d\/huge: its chunks hold 5 bytes; its declared size is 4503599627370496$/,
      ],
      [
        { ...short, size: 4 },
        /^RestoreError: d\/short: its chunks hold more than its declared size of 4 bytes$/,
      ],
    ] as const
  ) {
    const root = b.tree([b.dir("d", [entry]), b.file("ok", ["fine"])]);
    await withTarget(async (target) => {
      const report = await restore(b.blobs, root, { target });
      assert.equal(report.failed, 1);
      assert.match(`${report.errors[0].name}: ${report.errors[0].message}`, reason);
      assert.deepEqual(await listAll(target), ["d", "ok"], "no file, no temporary file");
    });
  }
});

Deno.test("a blob whose bytes do not match is an error naming the file; no half file is left", async () => {
  const b = new TreeBuilder();
  const good = new Uint8Array(100_000).fill(1);
  const root = b.tree([
    b.file("first", ["fine"]),
    b.dir("d", [b.file("damaged", [good, "tampered chunk", good])]),
  ]);
  const bad = blobIdOf(new TextEncoder().encode("tampered chunk"));
  b.blobs.lie = (id, blob) => id === bad ? new TextEncoder().encode("something else") : blob?.raw;
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target });
    assert.equal(report.failed, 1, report.errors.join("\n"));
    const [error] = report.errors;
    assert.ok(
      error instanceof RestoreError && error.path === "d/damaged" &&
        /do not match/.test(error.message),
    );
    // Each file on its own: "first", in the same batch, is in place.
    assert.deepEqual(await listAll(target), ["d", "first"]);
  });
});

// --- Owners ---

Deno.test("owner names that exist here win over numeric ids; unknown names fall back to ids", () => {
  const owners = new OwnerResolver(
    "root:x:0:0:root:/root:/bin/sh\nalice:x:1005:1005::/home/alice:/bin/sh\n# comment\nbroken\n",
    "root:x:0:\nstaff:x:50:alice\n",
  );
  assert.deepEqual(owners.ownerOf({ uid: 501, gid: 20, user: "alice", group: "staff" }), {
    uid: 1005,
    gid: 50,
  });
  assert.deepEqual(owners.ownerOf({ uid: 501, gid: 20, user: "bob", group: "wheel" }), {
    uid: 501,
    gid: 20,
  });
  assert.deepEqual(owners.ownerOf({ uid: 7, gid: 8 }), { uid: 7, gid: 8 });
});

Deno.test("not as root: owners are left alone and setuid/setgid bits dropped", async () => {
  const b = new TreeBuilder();
  const root = b.tree([
    b.file("tool", ["x"], { mode: 0o6755, uid: 4321, gid: 4321 }),
    b.dir("shared", [], { mode: 0o1777 }),
  ]);
  await withTarget(async (target) => {
    const me = (await Deno.lstat(target)).uid;
    await restore(b.blobs, root, { target, asRoot: false });
    assert.equal(await mode(`${target}/tool`), 0o755);
    assert.equal(await mode(`${target}/shared`), 0o1777);
    assert.equal((await Deno.lstat(`${target}/tool`)).uid, me);
  });
});

Deno.test({
  name: "as root: owners by name where known, else numeric ids, links included; setuid kept",
  ignore: !IS_ROOT,
  fn: async () => {
    const b = new TreeBuilder();
    const root = b.tree([
      b.file("numeric", ["x"], { uid: 4321, gid: 4322 }),
      b.file("named", ["x"], { uid: 999, gid: 998, user: "root", group: "root" }),
      b.file("unknown-name", ["x"], {
        uid: 4000,
        gid: 4001,
        user: "no-such-user-here",
        group: "no-such-group",
      }),
      b.link("link", "numeric", { uid: 4323, gid: 4324 }),
      b.file("setuid", ["x"], { mode: 0o4755, uid: 4321, gid: 4322 }),
      b.dir("dir", [], { uid: 4325, gid: 4326, mode: 0o2750 }),
    ]);
    await withTarget(async (target) => {
      await restore(b.blobs, root, { target });
      const owner = async (name: string) => {
        const info = await Deno.lstat(`${target}/${name}`);
        return [info.uid, info.gid];
      };
      assert.deepEqual(await owner("numeric"), [4321, 4322]);
      assert.deepEqual(await owner("named"), [0, 0]);
      assert.deepEqual(await owner("unknown-name"), [4000, 4001]);
      assert.deepEqual(await owner("link"), [4323, 4324]);
      assert.deepEqual(
        await owner("numeric"),
        [4321, 4322],
        "the link's owner did not go to its target",
      );
      assert.equal(await mode(`${target}/setuid`), 0o4755);
      assert.deepEqual(await owner("dir"), [4325, 4326]);
      assert.equal(await mode(`${target}/dir`), 0o2750);
    });
  },
});
