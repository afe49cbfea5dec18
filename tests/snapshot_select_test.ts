/**
 * The logic of the snapshot commands without a server: naming and picking snapshots
 * (client/snapshot/snapshot_select.ts), walking and reading trees (tree_walk.ts), diffing them
 * (tree_diff.ts), find's patterns, a backup run as one snapshot (snapshot_backup.ts) against an
 * in-memory session, and the progress renderer's pace (cli/snapshot_progress.ts).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeSnapshot, type SnapshotRecord } from "../protocol/v3/snapshot.ts";
import type { BlobId, BlobKind } from "../client/snapshot/blobs.ts";
import {
  absolutePaths,
  filterSnapshots,
  listedSnapshot,
  ListedSnapshotError,
  parentFor,
  parseSnapshotRef,
  selectSnapshot,
  type SnapshotInfo,
  SnapshotRefError,
  SnapshotSelectError,
} from "../client/snapshot/snapshot_select.ts";
import { resolvePath, SnapshotPathError, walkTree } from "../client/snapshot/tree_walk.ts";
import { diffTrees } from "../client/snapshot/tree_diff.ts";
import { readFile } from "../client/snapshot/file_content.ts";
import { findMatcher } from "../client/snapshot/snapshot_find.ts";
import { backupSnapshot } from "../client/snapshot/snapshot_backup.ts";
import type {
  CommitOutcome,
  ListedEntry,
  SnapshotSessionLike,
} from "../client/snapshot/snapshot_session.ts";
import { UnsafeSnapshotError } from "../client/snapshot/restore_errors.ts";
import { ProgressRenderer } from "../cli/snapshot_progress.ts";
import { encodeTree } from "../protocol/v3/tree.ts";
import { MemoryBlobs } from "./_memory_blobs.ts";
import { TreeBuilder, UncheckedSource } from "./_tree_builder.ts";
import { EMPTY_SUMMARY } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

function info(
  id: string,
  fields: Partial<SnapshotRecord> & { timeMs: number },
): SnapshotInfo {
  const record: SnapshotRecord = {
    tree: "00".repeat(32),
    paths: ["/home/u"],
    host: "a",
    user: "u",
    tags: [],
    summary: EMPTY_SUMMARY,
    ...fields,
  };
  return { id: id.padEnd(64, "0"), storedMs: fields.timeMs, record };
}

const LIST = [
  info("aaaa1111", { timeMs: 3, host: "a", tags: ["daily"] }),
  info("aaaa2222", { timeMs: 5, host: "b", paths: ["/srv"] }),
  info("bbbb1111", { timeMs: 4, host: "a", paths: ["/home/u", "/etc"], tags: ["daily", "x"] }),
  info("cccc1111", { timeMs: 1, host: "a" }),
];

Deno.test("a snapshot is named by latest, or 8 to 64 hex digits, with an optional :PATH", () => {
  assert.deepEqual(parseSnapshotRef("latest"), { name: "latest" });
  assert.deepEqual(parseSnapshotRef("AAAA1111:/home/u"), { name: "aaaa1111", path: "/home/u" });
  assert.deepEqual(parseSnapshotRef("latest:"), { name: "latest", path: "/" });
  for (const bad of ["aaaa111", "newest", "zzzzzzzz", "a".repeat(65), ""]) {
    assert.throws(() => parseSnapshotRef(bad), SnapshotRefError, bad);
  }
});

Deno.test("latest is the newest of the filter's snapshots; an id names one of any host", () => {
  assert.equal(selectSnapshot(LIST, { name: "latest" }, { host: "a" }).id.slice(0, 8), "bbbb1111");
  assert.equal(selectSnapshot(LIST, { name: "latest" }, { host: "b" }).id.slice(0, 8), "aaaa2222");
  assert.equal(
    selectSnapshot(LIST, { name: "latest" }, { host: "a", paths: ["/etc"] }).id.slice(0, 8),
    "bbbb1111",
  );
  assert.throws(
    () => selectSnapshot(LIST, { name: "latest" }, { host: "c" }),
    SnapshotSelectError,
  );
  // An id is an id: another host's snapshot is readable by it.
  assert.equal(selectSnapshot(LIST, { name: "aaaa2222" }, { host: "a" }).record.host, "b");
  assert.throws(() => selectSnapshot(LIST, { name: "aaaa" + "0000" }), SnapshotSelectError);
});

Deno.test("an id prefix that names two snapshots is refused, naming them", () => {
  const twins = [info("aaaa1111", { timeMs: 1 }), info("aaaa1111f", { timeMs: 2 })];
  assert.throws(
    () => selectSnapshot(twins, { name: "aaaa1111" }),
    (error: Error) => error instanceof SnapshotSelectError && /2 snapshots/.test(error.message),
  );
});

Deno.test("filters: host, every path given, and tags (a,b: both; repeated: either)", () => {
  const ids = (list: SnapshotInfo[]) => list.map((s) => s.id.slice(0, 8));
  assert.deepEqual(ids(filterSnapshots(LIST, {})), [
    "cccc1111",
    "aaaa1111",
    "bbbb1111",
    "aaaa2222",
  ]);
  assert.deepEqual(ids(filterSnapshots(LIST, { tags: ["daily,x"] })), ["bbbb1111"]);
  assert.deepEqual(ids(filterSnapshots(LIST, { tags: ["x", "daily"] })), ["aaaa1111", "bbbb1111"]);
  assert.deepEqual(ids(filterSnapshots(LIST, { paths: ["/srv"] })), ["aaaa2222"]);
});

Deno.test("the parent is the newest of the same host with the same set of paths", () => {
  assert.equal(parentFor(LIST, "a", ["/home/u"])?.id.slice(0, 8), "aaaa1111");
  assert.equal(parentFor(LIST, "a", ["/etc", "/home/u"])?.id.slice(0, 8), "bbbb1111");
  assert.equal(parentFor(LIST, "b", ["/home/u"]), undefined, "another host's is never a parent");
  assert.deepEqual(absolutePaths(["docs", "../x", "/a/./b/", "docs"], "/home/u"), [
    "/a/b",
    "/home/u/docs",
    "/home/x",
  ]);
});

Deno.test("a listed record that does not hash to its id is refused", () => {
  const record = encodeSnapshot({ ...LIST[0].record });
  const id = createHash("sha256").update(record).digest("hex");
  assert.equal(listedSnapshot({ id, storedMs: 1, record }).record.host, "a");
  assert.throws(
    () => listedSnapshot({ id: "ab".repeat(32), storedMs: 1, record }),
    ListedSnapshotError,
  );
});

function sample() {
  const b = new TreeBuilder();
  const docs = b.dir("docs", [
    b.file("a.txt", ["hello ", "world"]),
    b.file("b.pdf", ["%PDF"]),
    b.dir("old", [b.file("a.txt", ["old"])]),
  ]);
  const root = b.tree([b.dir("home", [docs, b.link("l", "docs/a.txt")])]);
  return { b, root, docs };
}

Deno.test("walkTree lists every entry depth first, a folder before its contents", async () => {
  const { b, root } = sample();
  const paths: string[] = [];
  for await (const { path } of walkTree(b.blobs, root)) paths.push(path);
  assert.deepEqual(paths, [
    "/home",
    "/home/docs",
    "/home/docs/a.txt",
    "/home/docs/b.pdf",
    "/home/docs/old",
    "/home/docs/old/a.txt",
    "/home/l",
  ]);
});

Deno.test("resolvePath finds entries and folders, refuses what is not there", async () => {
  const { b, root, docs } = sample();
  assert.equal((await resolvePath(b.blobs, root, "/")).tree, root);
  assert.equal((await resolvePath(b.blobs, root, "home/docs/")).tree, docs.subtree);
  assert.equal((await resolvePath(b.blobs, root, "/home/docs/a.txt")).entry?.type, "file");
  await assert.rejects(() => resolvePath(b.blobs, root, "/home/nope"), SnapshotPathError);
  await assert.rejects(() => resolvePath(b.blobs, root, "/home/l/x"), SnapshotPathError);
  await assert.rejects(() => resolvePath(b.blobs, root, "/home/../etc"), SnapshotPathError);
});

Deno.test("readFile writes a file's chunks in order and checks its size", async () => {
  const { b, root } = sample();
  const { entry } = await resolvePath(b.blobs, root, "/home/docs/a.txt");
  const parts: string[] = [];
  await readFile(b.blobs, entry!, (bytes) => {
    parts.push(new TextDecoder().decode(bytes));
    return Promise.resolve();
  });
  assert.equal(parts.join(""), "hello world");
  const lying = { ...entry!, size: 3 } as typeof entry & { size: number };
  await assert.rejects(() => readFile(b.blobs, lying!, () => Promise.resolve()), SnapshotPathError);
});

Deno.test("diff skips a subtree whose id is the same on both sides, without reading it", async () => {
  const b = new TreeBuilder();
  const same = b.dir("same", [b.file("x", ["x"]), b.dir("deep", [b.file("y", ["y"])])]);
  const before = b.tree([
    same,
    b.file("changed", ["1"]),
    b.file("gone", ["g"]),
    b.file("touched", ["t"], { mtimeMs: 1 }),
    b.dir("kind", []),
  ]);
  const after = b.tree([
    same,
    b.file("changed", ["2"]),
    b.file("new", ["n"]),
    b.file("touched", ["t"], { mtimeMs: 2 }),
    b.file("kind", ["k"]),
  ]);
  const read: string[] = [];
  const source = {
    get(id: BlobId, kind: BlobKind) {
      read.push(id);
      return b.blobs.get(id, kind);
    },
  };
  const changes: string[] = [];
  for await (const c of diffTrees(source, before, after)) changes.push(`${c.change} ${c.path}`);
  assert.deepEqual(changes, ["M /changed", "- /gone", "T /kind", "+ /new", "U /touched"]);
  assert.ok(!read.includes(same.subtree), "the equal subtree was not fetched");
  assert.equal(read.length, 3, "both roots and the removed folder's tree");
});

Deno.test("a tree that names itself is refused by walk and diff, not followed forever", async () => {
  const source = new UncheckedSource();
  const selfId = "ee".repeat(32);
  const loop = encodeTree({
    entries: [{
      name: "me",
      type: "dir",
      subtree: selfId,
      mode: 0o755,
      mtimeMs: 0,
      atimeMs: 0,
      uid: 0,
      gid: 0,
      inode: 1,
      device: 1,
      links: 1,
    }],
  });
  source.blobs.set(selfId, loop);
  const empty = encodeTree({ entries: [] });
  source.blobs.set("00".repeat(32), empty);
  await assert.rejects(async () => {
    for await (const _ of walkTree(source, selfId)) { /* walk */ }
  }, UnsafeSnapshotError);
  await assert.rejects(async () => {
    for await (const _ of diffTrees(source, "00".repeat(32), selfId)) { /* diff */ }
  }, UnsafeSnapshotError);
  assert.ok(source.gets < 10, `${source.gets} gets`);
});

Deno.test("find matches names, or with a / whole paths (** spans folders)", () => {
  assert.ok(findMatcher("*.txt")("/home/docs/a.txt"));
  assert.ok(!findMatcher("*.txt")("/home/docs/a.txt.gz"));
  assert.ok(findMatcher("a.?xt")("/a.txt"));
  assert.ok(findMatcher("[ab].txt")("/x/b.txt"));
  assert.ok(!findMatcher("[!ab].txt")("/x/b.txt"));
  assert.ok(findMatcher("docs/*.txt")("/home/docs/a.txt"));
  assert.ok(!findMatcher("/docs/*.txt")("/home/docs/a.txt"), "a leading / anchors");
  assert.ok(findMatcher("/home/**/a.txt")("/home/docs/old/a.txt"));
  assert.ok(findMatcher("/home/**/a.txt")("/home/a.txt"));
  assert.ok(findMatcher("/home/**")("/home/docs/old"));
  assert.ok(findMatcher("A.TXT", true)("/a.txt"));
});

/** The blobs of `MemoryBlobs` plus a snapshot list, as a v3 session would keep them. */
class MemorySession extends MemoryBlobs implements SnapshotSessionLike {
  readonly snapshots: ListedEntry[] = [];
  opened = 0;
  /** Ids the next commit says are missing (and removes from the store, as GC would have). */
  gcBeforeCommit: BlobId[] = [];

  openSnapshot(): Promise<void> {
    this.opened++;
    return Promise.resolve();
  }

  commitSnapshot(record: Uint8Array, tree: BlobId): Promise<CommitOutcome> {
    const id = createHash("sha256").update(record).digest("hex");
    const lost = this.gcBeforeCommit.splice(0);
    for (const gone of lost) this.blobs.delete(gone);
    const missing = [tree, ...lost].filter((want) => !this.blobs.has(want));
    if (missing.length > 0) return Promise.resolve({ id, committed: false, missing });
    this.snapshots.push({ id, storedMs: this.snapshots.length, record });
    return Promise.resolve({ id, committed: true, missing: [] });
  }

  async *listSnapshots(): AsyncGenerator<ListedEntry> {
    yield* this.snapshots;
  }

  forgetSnapshot(): Promise<void> {
    return Promise.reject(new Error("not here"));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a backup makes one snapshot; the next of the same paths sends no data and names it parent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/t/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/t/a.txt`, "a".repeat(5000));
    await Deno.writeTextFile(`${dir}/t/sub/b.txt`, "b".repeat(7000));
    const session = new MemorySession();
    const options = { host: "h", user: "u", archive: { cwd: dir, scan: false } };
    const first = await backupSnapshot(session, ["t"], options);
    assert.equal(first.record.summary.files, 2);
    assert.deepEqual(first.record.paths, [`${dir}/t`]);
    assert.equal(first.parent, undefined);
    const putsBefore = session.counts.puts;
    const second = await backupSnapshot(session, [`${dir}/t`], options);
    assert.equal(second.parent?.id, first.id, "the same paths from another spelling");
    assert.equal(second.record.summary.filesUnmodified, 2);
    assert.equal(second.record.summary.bytesAdded, 0);
    assert.equal(session.counts.puts, putsBefore, "nothing sent again");
    assert.equal(session.snapshots.length, 2);
    // Another host has no parent among these.
    const other = await backupSnapshot(session, ["t"], { ...options, host: "other" });
    assert.equal(other.parent, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a commit answered with missing blobs is retried after a run without the parent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "a".repeat(5000));
    const session = new MemorySession();
    const options = { host: "h", user: "u", archive: { cwd: dir, scan: false } };
    const first = await backupSnapshot(session, ["."], options);
    // Garbage collection took the file's chunk: the parent's chunk list is no longer enough.
    const { entry } = await resolvePath(session, first.record.tree, `${dir}/a.txt`);
    session.gcBeforeCommit = [...(entry as { content: string[] }).content];
    const second = await backupSnapshot(session, ["."], options);
    assert.equal(session.snapshots.length, 2);
    assert.ok(second.bytesSent >= 5000, "the lost chunk was sent again");
    assert.ok(session.blobs.has((entry as { content: string[] }).content[0]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the progress renderer draws at most 10 times a second, and every problem", () => {
  let now = 0;
  const drawn: string[] = [];
  const warned: string[] = [];
  const renderer = new ProgressRenderer("backup", {
    mode: "line",
    now: () => now,
    writeLine: (text) => drawn.push(text),
    warn: (text) => warned.push(text),
    columns: 100,
  });
  renderer.archive({ type: "totals", files: 3000, dirs: 1, bytes: 3000 * 1024, complete: true });
  for (let i = 1; i <= 3000; i++) {
    now = i; // 3,000 files in 3 seconds
    renderer.archive({ type: "file", path: `/home/u/f${i}`, size: 1024 });
    renderer.archive({
      type: "progress",
      filesDone: i,
      dirsDone: 0,
      bytesDone: i * 1024,
      bytesSent: i * 1024,
    });
  }
  renderer.archive({ type: "error", path: "/home/u/x", kind: "unreadable", reason: "denied" });
  const lines = drawn.filter((text) => text.includes("files"));
  assert.ok(lines.length <= 31 && lines.length >= 29, `${lines.length} redraws in 3 s`);
  assert.match(lines.at(-1)!, /9\d\.\d% {2}29\d\d\/3000 files/);
  assert.match(lines.at(-1)!, /\/home\/u\/f\d+/);
  assert.ok(lines.every((line) => line.length <= 100 + 4), "fits the terminal");
  assert.deepEqual(warned, ["backup-client: error: /home/u/x: denied"]);
  assert.equal(renderer.bytesSent, 3000 * 1024);
  const quiet: string[] = [];
  const none = new ProgressRenderer("backup", { mode: "none", writeLine: (t) => quiet.push(t) });
  none.archive({ type: "progress", filesDone: 1, dirsDone: 0, bytesDone: 1, bytesSent: 1 });
  assert.deepEqual(quiet, []);
});
