/**
 * The archiver (client/snapshot/archiver.ts) against real temp trees and an in-memory blob store:
 * what it sends, what it reads, what its trees hold, what it leaves out, and what it tells.
 */
import assert from "node:assert/strict";
import { decodeTree, type FileEntry, type Tree, type TreeEntry } from "../protocol/v3/tree.ts";
import {
  archive,
  ArchiveError,
  type ArchiveEvent,
  type ArchiveOptions,
  archiveStdin,
  type OpenedFile,
} from "../client/snapshot/archiver.ts";
import type { BlobId, BlobSink, OutgoingBlob } from "../client/snapshot/blobs.ts";
import { blobIdOf, MemoryBlobs } from "./_memory_blobs.ts";
import { chunkBoundaries } from "../chunking/fastcdc.ts";
import { canMountTmpfs, mountTmpfs, unmountTmpfs } from "./_tmpfs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const MiB = 1024 * KiB;
/** An access time ahead of every clock here: under relatime a read never moves it. */
const FUTURE_MS = Date.UTC(2100, 0, 1);
const MTIME_MS = Date.UTC(2026, 0, 1);

/** Deterministic bytes (xorshift32) so that chunk counts do not depend on luck. */
function pseudoRandom(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** Writes `files` (relative path → bytes) under `dir`, creating folders. */
async function writeTree(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const path = `${dir}/${relative}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    await Deno.writeFile(path, bytes);
  }
}

/** Sets every time under `dir` (and `dir`) to fixed values, the access time in the future. */
async function pinTimes(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await pinTimes(path);
    else if (entry.isFile) await Deno.utime(path, FUTURE_MS / 1000, MTIME_MS / 1000);
  }
  await Deno.utime(dir, FUTURE_MS / 1000, MTIME_MS / 1000);
}

async function tree(blobs: MemoryBlobs, id: BlobId): Promise<Tree> {
  return decodeTree(await blobs.get(id, "tree"));
}

/** The entry at the absolute `path` in the snapshot whose root tree is `root`. */
async function entryAt(blobs: MemoryBlobs, root: BlobId, path: string): Promise<TreeEntry> {
  let entries = (await tree(blobs, root)).entries;
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const entry = entries.find((e) => e.name === parts[i]);
    assert.ok(entry, `no ${parts[i]} on the way to ${path}`);
    if (i === parts.length - 1) return entry;
    assert.equal(entry.type, "dir");
    entries = (await tree(blobs, entry.subtree)).entries;
  }
  throw new Error("unreachable");
}

/** Every file below a folder's tree: relative path → its bytes, rebuilt from the chunks. */
async function filesOf(blobs: MemoryBlobs, id: BlobId, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of (await tree(blobs, id)).entries) {
    const path = prefix + entry.name;
    if (entry.type === "dir") {
      for (const [p, c] of await filesOf(blobs, entry.subtree, `${path}/`)) out.set(p, c);
    } else if (entry.type === "file") out.set(path, await contentOf(blobs, entry));
  }
  return out;
}

async function contentOf(blobs: MemoryBlobs, entry: FileEntry): Promise<string> {
  const parts = await Promise.all(entry.content.map((id) => blobs.get(id, "data")));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  assert.equal(bytes.length, entry.size);
  return new TextDecoder("latin1").decode(bytes);
}

/** A sink that records every id put (to catch one put twice). */
function recording(blobs: MemoryBlobs): BlobSink & { puts: OutgoingBlob[] } {
  const puts: OutgoingBlob[] = [];
  return {
    puts,
    missing: (ids) => blobs.missing(ids),
    put: (blob) => {
      puts.push(blob);
      return blobs.put(blob);
    },
  };
}

/** Opens with `Deno.open`, counting the files opened. */
function countingOpener(): { opened: string[]; openFile: (path: string) => Promise<OpenedFile> } {
  const opened: string[] = [];
  return { opened, openFile: (path) => (opened.push(path), Deno.open(path)) };
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "archiver-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const quiet: ArchiveOptions = { scan: false };

Deno.test("the root tree mirrors the absolute paths given; ancestors keep their own metadata and only the way to the paths", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, { "a/one.txt": "one", "b/c/two.txt": "two", "b/other.txt": "left out" });
    await Deno.chmod(`${dir}/b`, 0o750);
    const blobs = new MemoryBlobs();
    const result = await archive([`${dir}/a`, `${dir}/b/c`, `${dir}/a/one.txt`], quiet, blobs);
    const top = (await tree(blobs, result.tree)).entries.map((e) => e.name);
    assert.deepEqual(top, [dir.split("/")[1]]);
    const b = await entryAt(blobs, result.tree, `${dir}/b`);
    assert.equal(b.type, "dir");
    assert.equal(b.mode, 0o750);
    assert.equal(b.mtimeMs, (await Deno.lstat(`${dir}/b`)).mtime!.getTime());
    assert.deepEqual(
      (await tree(blobs, (b as { subtree: string }).subtree)).entries.map((e) => e.name),
      ["c"],
    );
    const base = await entryAt(blobs, result.tree, dir);
    const files = await filesOf(blobs, (base as { subtree: string }).subtree);
    assert.deepEqual([...files], [["a/one.txt", "one"], ["b/c/two.txt", "two"]]);
    assert.equal(result.summary.files, 2);
    assert.equal(result.errors, 0);
  });
});

Deno.test("a first run sends every chunk once: a file twice in the tree sends its chunks once", async () => {
  await withTemp(async (dir) => {
    const big = pseudoRandom(3 * MiB, 7);
    await writeTree(dir, {
      "big.bin": big,
      "copy/big.bin": big,
      "small.txt": "small",
      "s2.txt": "small",
    });
    const blobs = new MemoryBlobs();
    const sink = recording(blobs);
    const result = await archive([dir], quiet, sink);
    const ids = sink.puts.map((blob) => blob.id);
    assert.equal(new Set(ids).size, ids.length, "an id was put twice");
    const entry = await entryAt(blobs, result.tree, `${dir}/big.bin`) as FileEntry;
    assert.ok(entry.content.length >= 3, `3 MiB in ${entry.content.length} chunks`);
    const dataPuts = sink.puts.filter((blob) => blob.kind === "data");
    assert.equal(dataPuts.length, entry.content.length + 1); // the big file's chunks, "small" once
    assert.equal(result.summary.bytesAdded, big.length + 5);
    assert.equal(result.summary.bytes, 2 * big.length + 10);
    assert.equal(result.summary.filesNew, 4);
    const files = await filesOf(
      blobs,
      (await entryAt(blobs, result.tree, dir) as { subtree: string }).subtree,
    );
    assert.equal(files.get("copy/big.bin"), new TextDecoder("latin1").decode(big));
  });
});

Deno.test("a second run of an unchanged tree reads no file and sends no data blob, and its trees are the same", async () => {
  await withTemp(async (dir) => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`d${i % 6}/sub/f${i}.txt`] = `file ${i}\n`.repeat(i + 1);
    await writeTree(dir, files);
    await Deno.symlink("d0", `${dir}/link`);
    const blobs = new MemoryBlobs();
    const first = countingOpener();
    const one = await archive([dir], { ...quiet, openFile: first.openFile }, blobs);
    assert.equal(first.opened.length, 60);
    const again = countingOpener();
    const sink = recording(blobs);
    const two = await archive(
      [dir],
      { ...quiet, openFile: again.openFile, parent: one.tree },
      sink,
      blobs,
    );
    assert.deepEqual(again.opened, []);
    assert.equal(sink.puts.filter((blob) => blob.kind === "data").length, 0);
    assert.equal(two.summary.filesUnmodified, 60);
    assert.equal(two.summary.bytesAdded, 0);
    // The folder's own tree (below the ancestors, whose times others move) is the same blob.
    const before = await entryAt(blobs, one.tree, dir) as { subtree: string };
    const after = await entryAt(blobs, two.tree, dir) as { subtree: string };
    assert.equal(after.subtree, before.subtree);
    // Only trees of ancestors may be new (/tmp changes as other programs use it).
    assert.ok(sink.puts.length <= dir.split("/").length, `${sink.puts.length} trees sent`);
  });
});

/** The ids of `bytes` cut as the server cuts v1 and v2 uploads (the chunker's defaults). */
function serverChunkIds(bytes: Uint8Array): string[] {
  let start = 0;
  return chunkBoundaries(bytes).map((end) => blobIdOf(bytes.subarray(start, start = end)));
}

Deno.test("a 1 MiB change in the middle of a 40 MiB file sends only the chunks it changed (4 here), cut as the server cuts", async () => {
  await withTemp(async (dir) => {
    const bytes = pseudoRandom(40 * MiB, 1234);
    await Deno.writeFile(`${dir}/big.bin`, bytes);
    const blobs = new MemoryBlobs();
    const one = await archive([`${dir}/big.bin`], quiet, blobs);
    const before = serverChunkIds(bytes);
    assert.deepEqual(
      (await entryAt(blobs, one.tree, `${dir}/big.bin`) as FileEntry).content,
      before,
    );
    bytes.set(pseudoRandom(MiB, 99), 17 * MiB);
    await Deno.writeFile(`${dir}/big.bin`, bytes);
    const sink = recording(blobs);
    const two = await archive([`${dir}/big.bin`], { ...quiet, parent: one.tree }, sink, blobs);
    const after = serverChunkIds(bytes);
    const entry = await entryAt(blobs, two.tree, `${dir}/big.bin`) as FileEntry;
    assert.deepEqual(entry.content, after);
    const data = sink.puts.filter((blob) => blob.kind === "data").map((blob) => blob.id);
    assert.deepEqual(data.sort(), after.filter((id) => !before.includes(id)).sort());
    // FastCDC's minimum size hides old cut points right after the change: resync takes 0 to a
    // few chunks (2 to 8 over 16 offsets of this file); at this offset it is 4 chunks.
    assert.equal(data.length, 4);
    assert.ok(two.summary.bytesAdded <= 3 * MiB, `${two.summary.bytesAdded} bytes sent`);
    assert.equal(two.summary.filesChanged, 1);
    assert.equal(await contentOf(blobs, entry), new TextDecoder("latin1").decode(bytes));
  });
});

Deno.test("tree ids are deterministic: the same tree gives the same ids whatever the readers, window and batches", async () => {
  await withTemp(async (dir) => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 40; i++) {
      files[`p${i % 4}/q${i % 3}/f${i}`] = pseudoRandom(1000 + i * 3000, i + 1);
    }
    files["large/x"] = pseudoRandom(2 * MiB, 77);
    await writeTree(dir, files);
    await pinTimes(dir);
    const ids: string[] = [];
    for (
      const options of [{ readers: 1 }, {
        readers: 8,
        pipeline: { windowBytes: 64 * KiB, missingBatch: 2 },
      }]
    ) {
      const blobs = new MemoryBlobs();
      const result = await archive([dir], { ...quiet, ...options }, blobs);
      ids.push((await entryAt(blobs, result.tree, dir) as { subtree: string }).subtree);
    }
    assert.equal(ids[0], ids[1]);
  });
});

Deno.test("excludes: globs, --exclude-caches (a valid CACHEDIR.TAG only) and --exclude-if-present", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, {
      "keep.txt": "k",
      "x.tmp": "t",
      "sub/y.tmp": "t",
      "build/out": "b",
      "sub/build/kept": "b",
      "cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n# a cache",
      "cache/data": "c",
      "fake/CACHEDIR.TAG": "not a signature",
      "fake/data": "f",
      "private/.nobackup": "",
      "private/secret": "s",
    });
    const blobs = new MemoryBlobs();
    const result = await archive([dir], {
      ...quiet,
      exclude: ["*.tmp", "/build"],
      excludeCaches: true,
      excludeIfPresent: [".nobackup"],
    }, blobs);
    const base = await entryAt(blobs, result.tree, dir) as { subtree: string };
    assert.deepEqual([...(await filesOf(blobs, base.subtree)).keys()].sort(), [
      "fake/CACHEDIR.TAG",
      "fake/data",
      "keep.txt",
      "sub/build/kept",
    ]);
    assert.equal(result.errors, 0);
  });
});

Deno.test("a FIFO is skipped with a warning event; the run goes on", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, { "a.txt": "a" });
    const made = await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
    assert.ok(made.success, "mkfifo failed");
    const events: ArchiveEvent[] = [];
    const blobs = new MemoryBlobs();
    const result = await archive([dir], { ...quiet, onEvent: (e) => events.push(e) }, blobs);
    const warnings = events.filter((e) => e.type === "warning");
    assert.deepEqual(warnings, [{
      type: "warning",
      path: `${dir}/pipe`,
      reason: "a FIFO: not kept in a snapshot",
    }]);
    assert.equal(result.warnings, 1);
    const base = await entryAt(blobs, result.tree, dir) as { subtree: string };
    assert.deepEqual((await tree(blobs, base.subtree)).entries.map((e) => e.name), ["a.txt"]);
  });
});

Deno.test("an unreadable file is reported and left out; a file that grows while read is reported and stored as read", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, {
      "a.txt": "a",
      "locked.txt": "l",
      "growing.log": "line\n",
      "z.txt": "z",
    });
    const events: ArchiveEvent[] = [];
    const blobs = new MemoryBlobs();
    const result = await archive([dir], {
      ...quiet,
      onEvent: (e) => events.push(e),
      openFile: async (path) => {
        if (path.endsWith("locked.txt")) throw new Deno.errors.PermissionDenied("no");
        // Another program appends between the walk's lstat and the read.
        if (path.endsWith("growing.log")) {
          await Deno.writeTextFile(path, "more\n", { append: true });
        }
        return Deno.open(path);
      },
    }, blobs);
    const errors = events.filter((e) => e.type === "error");
    // Files are read four at a time: the order of their events is not the walk's.
    assert.deepEqual(errors.map((e) => e.type === "error" && [e.path, e.kind]).sort(), [
      [`${dir}/growing.log`, "changed"],
      [`${dir}/locked.txt`, "unreadable"],
    ]);
    assert.equal(result.errors, 2);
    const base = await entryAt(blobs, result.tree, dir) as { subtree: string };
    const files = await filesOf(blobs, base.subtree);
    assert.deepEqual([...files.keys()], ["a.txt", "growing.log", "z.txt"]);
    assert.equal(files.get("growing.log"), "line\nmore\n");
    const done = events.at(-1);
    assert.ok(done?.type === "done" && done.errors === 2);
  });
});

Deno.test("standard input is one file in the root; the same bytes again send no data", async () => {
  const pieces = [new TextEncoder().encode("dump "), pseudoRandom(700 * KiB, 5), new Uint8Array(3)];
  const blobs = new MemoryBlobs();
  const one = await archiveStdin(ReadableStream.from(pieces), "db.sql", { nowMs: 5000 }, blobs);
  const entries = (await tree(blobs, one.tree)).entries;
  assert.equal(entries.length, 1);
  const entry = entries[0] as FileEntry;
  assert.deepEqual([entry.name, entry.type, entry.mode, entry.mtimeMs], [
    "db.sql",
    "file",
    0o644,
    5000,
  ]);
  assert.equal(entry.size, 5 + 700 * KiB + 3);
  assert.equal(one.summary.bytesAdded, entry.size);
  const sink = recording(blobs);
  const two = await archiveStdin(ReadableStream.from(pieces), "db.sql", { nowMs: 5000 }, sink);
  assert.equal(two.tree, one.tree);
  assert.deepEqual(sink.puts, []);
  await assert.rejects(
    archiveStdin(ReadableStream.from(pieces), "a/b", {}, blobs),
    ArchiveError,
  );
});

/**
 * A sink that answers each call a macrotask later, as a network would, and none before `gate`
 * resolves; it counts the calls out at once.
 */
function slowSink(blobs: MemoryBlobs, gate: Promise<void>): BlobSink & { peak: number } {
  let out = 0;
  const sink = {
    peak: 0,
    async later<T>(answer: () => Promise<T>): Promise<T> {
      out++;
      sink.peak = Math.max(sink.peak, out);
      await gate;
      await new Promise((resolve) => setTimeout(resolve, 0));
      out--;
      return answer();
    },
    missing: (ids: BlobId[]) => sink.later(() => blobs.missing(ids)),
    put: (blob: OutgoingBlob) => sink.later(() => blobs.put(blob)),
  };
  return sink;
}

Deno.test("many small files: calls overlap (no round trip per file), and what is held is bounded by the window and the path, not the file count", async () => {
  await withTemp(async (dir) => {
    const files: Record<string, Uint8Array> = {};
    const count = 1200;
    for (let i = 0; i < count; i++) {
      files[`d${i % 40}/e${i % 3}/f${i}`] = pseudoRandom(2 * KiB, i + 1);
    }
    await writeTree(dir, files);
    const blobs = new MemoryBlobs();
    // The sink answers nothing until the scan has counted everything: the run stalls on a full
    // window meanwhile, and the totals event is sure to come before the end.
    const counted = Promise.withResolvers<void>();
    const sink = slowSink(blobs, counted.promise);
    const window = 64 * KiB;
    const events: ArchiveEvent[] = [];
    const result = await archive([dir], {
      readers: 4,
      pipeline: { windowBytes: window },
      onEvent: (e) => {
        events.push(e);
        if (e.type === "totals" && e.complete) counted.resolve();
      },
    }, sink);
    assert.equal(result.summary.files, count);
    assert.ok(sink.peak >= 4, `at most ${sink.peak} calls at once`);
    assert.ok(result.stats.missingCalls < count / 2, `${result.stats.missingCalls} Missing calls`);
    assert.ok(result.stats.peakHeldBytes <= window, `${result.stats.peakHeldBytes} bytes held`);
    // Folders open at once: readers × depth (3 levels below the path given) plus the path.
    assert.ok(result.stats.peakOpenDirs <= 4 * 4 + 4, `${result.stats.peakOpenDirs} folders open`);
    assert.equal(blobs.counts.puts, count + 40 * 3 + 40 + 1 + dir.split("/").length - 1);
    const totals = events.filter((e) => e.type === "totals" && e.complete);
    assert.deepEqual(totals.map((e) => e.type === "totals" && [e.files, e.bytes]), [[
      count,
      count * 2 * KiB,
    ]]);
    const last = events.filter((e) => e.type === "progress").at(-1);
    assert.ok(
      last?.type === "progress" && last.filesDone === count && last.bytesSent > count * 2 * KiB,
    );
    assert.equal(events.filter((e) => e.type === "file").length, count);
  });
});

Deno.test("with the set of known ids capped at 1, a repeated chunk is asked about again but put once", async () => {
  await withTemp(async (dir) => {
    const same = pseudoRandom(10 * KiB, 3);
    await writeTree(dir, { "a": same, "b": pseudoRandom(KiB, 4), "c": same, "d": same });
    const blobs = new MemoryBlobs();
    const sink = recording(blobs);
    const result = await archive(
      [dir],
      { ...quiet, readers: 1, pipeline: { maxKnownIds: 1 } },
      sink,
    );
    assert.equal(sink.puts.filter((blob) => blob.kind === "data").length, 2);
    assert.ok(result.stats.idsAsked > result.stats.dataPuts + result.stats.treePuts);
  });
});

Deno.test("a path that does not exist is reported; none readable is an ArchiveError", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, { "a.txt": "a" });
    const events: ArchiveEvent[] = [];
    const blobs = new MemoryBlobs();
    const result = await archive([`${dir}/a.txt`, `${dir}/gone`], {
      ...quiet,
      onEvent: (e) => events.push(e),
    }, blobs);
    assert.equal(result.errors, 1);
    assert.ok(events.some((e) => e.type === "error" && e.path === `${dir}/gone`));
    await assert.rejects(archive([`${dir}/gone`], quiet, blobs), ArchiveError);
  });
});

Deno.test("--one-file-system keeps a mount point as an empty folder and does not go in", async () => {
  if (!await canMountTmpfs("archiver --one-file-system")) return;
  await withTemp(async (dir) => {
    await writeTree(dir, { "a.txt": "a", "mnt/.keep": "" });
    assert.ok(await mountTmpfs(`${dir}/mnt`, "1m"));
    try {
      await Deno.writeTextFile(`${dir}/mnt/inside.txt`, "other file system");
      const blobs = new MemoryBlobs();
      const across = await archive([dir], quiet, blobs);
      const base = (await entryAt(blobs, across.tree, dir)) as { subtree: string };
      assert.deepEqual([...(await filesOf(blobs, base.subtree)).keys()], [
        "a.txt",
        "mnt/inside.txt",
      ]);
      const one = await archive([dir], { ...quiet, oneFileSystem: true }, blobs);
      const mnt = await entryAt(blobs, one.tree, `${dir}/mnt`);
      assert.equal(mnt.type, "dir");
      assert.deepEqual((await tree(blobs, (mnt as { subtree: string }).subtree)).entries, []);
      assert.equal(one.summary.files, 1);
    } finally {
      await unmountTmpfs(`${dir}/mnt`);
    }
  });
});

Deno.test("one changed file deep in the tree: only it is read, and only the trees on its path are sent", async () => {
  await withTemp(async (dir) => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d${i % 8}/sub/f${i}.txt`] = `file ${i}\n`;
    await writeTree(dir, files);
    await pinTimes(dir);
    const blobs = new MemoryBlobs();
    const one = await archive([dir], quiet, blobs);
    await Deno.writeTextFile(`${dir}/d3/sub/f11.txt`, "changed\n");
    const opener = countingOpener();
    const sink = recording(blobs);
    const two = await archive(
      [dir],
      { ...quiet, parent: one.tree, openFile: opener.openFile },
      sink,
      blobs,
    );
    assert.deepEqual(opener.opened, [`${dir}/d3/sub/f11.txt`]);
    assert.deepEqual([two.summary.filesChanged, two.summary.filesUnmodified], [1, 39]);
    assert.equal(sink.puts.filter((blob) => blob.kind === "data").length, 1);
    // sub, d3, the folder given, and at most its ancestors.
    const trees = sink.puts.filter((blob) => blob.kind === "tree").length;
    assert.ok(trees >= 3 && trees <= 3 + dir.split("/").length - 1, `${trees} trees sent`);
  });
});

Deno.test("a sink that fails stops the run with its error, and no read outlives the run", async () => {
  await withTemp(async (dir) => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 50; i++) files[`f${i}`] = pseudoRandom(4 * KiB, i + 1);
    await writeTree(dir, files);
    const blobs = new MemoryBlobs();
    let puts = 0;
    const failing: BlobSink = {
      missing: (ids) => blobs.missing(ids),
      put: (blob) => ++puts > 10 ? Promise.reject(new Error("connection lost")) : blobs.put(blob),
    };
    await assert.rejects(archive([dir], quiet, failing), /connection lost/);
  });
});
