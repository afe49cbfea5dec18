/**
 * The restorer past a path it cannot restore (restic's way: report it, restore the rest), and its
 * metadata never going through a link planted while it works (client/snapshot/restorer.ts).
 */
import assert from "node:assert/strict";
import { restore, type RestoreError } from "../client/snapshot/restorer.ts";
import type { BlobId, BlobKind, BlobSource } from "../client/snapshot/blobs.ts";
import { blobIdOf } from "./_memory_blobs.ts";
import { TreeBuilder } from "./_tree_builder.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T1 = 1_500_000_000_123;

async function withTarget(run: (target: string, outside: string) => Promise<void>) {
  const top = await Deno.makeTempDir({ prefix: "restorer-failures-" });
  await Deno.mkdir(`${top}/target`);
  await Deno.mkdir(`${top}/outside`);
  try {
    await run(`${top}/target`, `${top}/outside`);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}

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

const mode = async (path: string) => (await Deno.lstat(path)).mode! & 0o7777;
const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("paths that cannot be restored are reported one by one; everything else is restored", async () => {
  const b = new TreeBuilder();
  const shared = "shared chunk";
  const lateFirst = "first used by a file that had failed";
  const missing = blobIdOf(bytes("never stored"));
  const root = b.tree([
    b.dir("a", [
      // Fails at its second chunk (more bytes than declared), after taking `lateFirst`'s get.
      { ...b.file("bad-size", [shared, lateFirst]), size: shared.length + 1 },
      b.file("copies-from-the-failed", [shared]),
      b.file("needs-the-late-chunk", [lateFirst]),
      { ...b.file("missing", ["x"]), content: [missing] },
      { ...b.file("missing-too", ["x", "y"]), content: [missing, b.chunk("y")] },
      b.file("fine", ["fine"], { mtimeMs: T1 }),
    ], { mtimeMs: T1, atimeMs: T1 }),
    // A folder whose tree the server does not have.
    { ...b.dir("lost-tree", []), subtree: blobIdOf(bytes("no such tree")) },
    // Hard links whose first name fails: the later name fails with it.
    { ...b.file("h1", ["x"], { inode: 77, device: 1, links: 2 }), content: [missing] },
    { ...b.file("h2", ["x"], { inode: 77, device: 1, links: 2 }), content: [missing] },
    b.file("z", ["last"]),
  ]);
  await withTarget(async (target) => {
    const seen: RestoreError[] = [];
    const report = await restore(b.blobs, root, { target, onError: (e) => seen.push(e) });
    const failed = ["a/bad-size", "a/missing", "a/missing-too", "lost-tree", "h1", "h2"];
    // A folder's failure is met in the walk; files' at the end of their batch.
    assert.deepEqual(seen.map((e) => e.path).sort(), failed.sort());
    assert.deepEqual(report.errors, seen);
    assert.equal(report.failed, failed.length);
    const reason = (path: string) => seen.find((e) => e.path === path)!.message;
    assert.match(reason("a/bad-size"), /more than its declared size/);
    assert.match(reason("a/missing"), /no such blob/);
    assert.match(reason("lost-tree"), /its tree cannot be read/);
    assert.match(reason("h2"), /its first name could not be restored/);
    assert.deepEqual(await listAll(target), [
      "a",
      "a/copies-from-the-failed",
      "a/fine",
      "a/needs-the-late-chunk",
      "lost-tree",
      "z",
    ]);
    assert.equal(await Deno.readTextFile(`${target}/a/copies-from-the-failed`), shared);
    assert.equal(await Deno.readTextFile(`${target}/a/needs-the-late-chunk`), lateFirst);
    assert.equal(await Deno.readTextFile(`${target}/z`), "last");
    // The folder still gets its metadata once what could be restored in it is.
    assert.equal((await Deno.lstat(`${target}/a`)).mtime!.getTime(), T1);
    assert.equal(report.files, 4);
  });
});

Deno.test("a lost connection still stops the restore (every later path would fail the same way)", async () => {
  const b = new TreeBuilder();
  const root = b.tree([b.file("a", ["a"]), b.file("b", ["b"])]);
  const { ConnectionLostError } = await import("../io/connection_errors.ts");
  const source: BlobSource = {
    get: (id: BlobId, kind: BlobKind) =>
      kind === "tree" ? b.blobs.get(id, kind) : Promise.reject(new ConnectionLostError("gone")),
  };
  await withTarget(async (target) => {
    await assert.rejects(restore(source, root, { target }), ConnectionLostError);
    assert.deepEqual(await listAll(target), []);
  });
});

/**
 * A source that, when the chunk `id` is asked for (once the restore made the file it goes into),
 * lets `swap` run first: what another user could do in a folder they can write, meanwhile.
 */
function swappingSource(b: TreeBuilder, id: BlobId, swap: () => Promise<void>): BlobSource {
  return {
    get: async (asked: BlobId, kind: BlobKind) => {
      if (asked === id) {
        // The restorer asks for a batch's chunks before it makes their files: let it go on.
        await Promise.resolve();
        await swap();
      }
      return b.blobs.get(asked, kind);
    },
  };
}

Deno.test("a file's mode is set through its descriptor: a link swapped in for it is not followed", async () => {
  // The target already exists (other users may write there): the file goes by a temporary name and
  // a rename. A `chmod` by that name would follow a link put there meanwhile.
  const b = new TreeBuilder();
  const root = b.tree([b.file("f", ["contents"], { mode: 0o644, mtimeMs: T1, atimeMs: T1 })]);
  await withTarget(async (target, outside) => {
    const victim = `${outside}/victim`;
    await Deno.writeTextFile(victim, "secret");
    await Deno.chmod(victim, 0o600);
    const victimTime = (await Deno.lstat(victim)).mtime!.getTime();
    const source = swappingSource(b, b.chunk("contents"), async () => {
      for await (const entry of Deno.readDir(target)) {
        if (!entry.name.startsWith(".restore-")) continue;
        await Deno.remove(`${target}/${entry.name}`);
        await Deno.symlink(victim, `${target}/${entry.name}`);
      }
    });
    await restore(source, root, { target }).catch(() => {});
    assert.equal(await mode(victim), 0o600, "the link's target kept its mode");
    assert.equal((await Deno.lstat(victim)).mtime!.getTime(), victimTime);
    assert.equal(await Deno.readTextFile(victim), "secret");
  });
});

Deno.test("a folder's mode and times are set through a descriptor of that folder, never a link", async () => {
  // The target is a folder others can write: one renames the folder the restore made there and
  // puts a link to another folder in its place before the restore gives it its metadata.
  const b = new TreeBuilder();
  const root = b.tree([
    b.dir("d", [b.file("f", ["inside"])], { mode: 0o777, mtimeMs: T1, atimeMs: T1 }),
  ]);
  await withTarget(async (target, outside) => {
    await Deno.chmod(outside, 0o700);
    const outsideTime = (await Deno.lstat(outside)).mtime!.getTime();
    const source = swappingSource(b, b.chunk("inside"), async () => {
      await Deno.rename(`${target}/d`, `${target}/moved`);
      await Deno.symlink(outside, `${target}/d`);
    });
    const seen: RestoreError[] = [];
    // Not as root: nothing else in the folder goes by its path (the file is made with its mode).
    // On this thread, where the file is made before the swap: a file worker would make it after,
    // by a path through the link (a path cannot be guarded against a folder renamed under it).
    const options = {
      target,
      asRoot: false,
      fileWorkers: 0,
      onError: (e: RestoreError) => seen.push(e),
    };
    await restore(source, root, options).catch(() => {});
    assert.equal(await mode(outside), 0o700, "the link's target kept its mode");
    assert.equal((await Deno.lstat(outside)).mtime!.getTime(), outsideTime);
    assert.ok(seen.some((e) => e.path === "d"), "the folder swapped for a link is reported");
  });
});
