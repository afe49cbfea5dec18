/**
 * The restorer's file workers (client/snapshot/restore_file_pool.ts): small files written whole
 * into a real temporary folder, by a worker or, once the workers are behind, by the caller.
 */
import assert from "node:assert/strict";
import { FilePool } from "../client/snapshot/restore_file_pool.ts";
import type { WholeFile } from "../client/snapshot/restore_whole_file.ts";
import { restore } from "../client/snapshot/restorer.ts";
import type { BlobId, BlobKind } from "../client/snapshot/blobs.ts";
import { TreeBuilder } from "./_tree_builder.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T = 1_500_000_000_123;

async function withDir(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "restore-file-pool-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function wholeFile(dir: string, name: string, chunks: Uint8Array[], mode = 0o640): WholeFile {
  const size = chunks.reduce((n, c) => n + c.length, 0);
  return {
    dir,
    entry: {
      name,
      type: "file",
      size,
      mode,
      mtimeMs: T,
      atimeMs: T,
      uid: 0,
      gid: 0,
      inode: 1,
      device: 1,
      links: 1,
    },
    chunks,
    asRoot: false,
    mode,
  };
}

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => i * seed);

Deno.test("a file past maxBytes while the workers are behind is written by the caller at once, outcomes in order", async () => {
  await withDir(async (dir) => {
    // The worker is behind from the first message on: it is still starting when `submit` returns.
    const pool = new FilePool({ workers: 1, maxBytes: 1 });
    try {
      // 16 files of 100 bytes fill one message to the worker.
      for (let i = 0; i < 16; i++) pool.submit(wholeFile(dir, `w${i}`, [bytesOf(100, i)]));
      pool.submit(wholeFile(dir, "here", [bytesOf(300, 7)], 0o600));
      // Written before `submit` returned, on this thread: nothing was awaited.
      assert.deepEqual(Deno.readFileSync(`${dir}/here`), bytesOf(300, 7));
      pool.submit(wholeFile(dir, "missing/x", [bytesOf(10, 1)]));
      const outcomes = await pool.drain();
      assert.equal(outcomes.length, 18);
      assert.deepEqual(outcomes.slice(0, 17), new Array(17).fill(undefined));
      assert.equal(outcomes[17]?.code, "ENOENT");
      for (let i = 0; i < 16; i++) {
        assert.deepEqual(Deno.readFileSync(`${dir}/w${i}`), bytesOf(100, i));
      }
      const here = Deno.lstatSync(`${dir}/here`);
      assert.equal(here.mode! & 0o7777, 0o600);
      assert.equal(here.mtime!.getTime(), T);
    } finally {
      await pool.close();
    }
  });
});

Deno.test("a worker that cannot load is posted to no more: files given after it died are written here", async () => {
  await withDir(async (dir) => {
    const broken = `data:application/javascript,${
      encodeURIComponent("throw new Error('no module');")
    }`;
    const { promise: died, resolve } = Promise.withResolvers<string>();
    const pool = new FilePool({
      workers: 1,
      maxBytes: 1 << 20,
      workerUrl: broken,
      onWorkerError: resolve,
    });
    try {
      pool.start(); // as the restorer does while it counts, before any file
      assert.match(await died, /a file worker failed/);
      for (let i = 0; i < 20; i++) pool.submit(wholeFile(dir, `f${i}`, [bytesOf(50, i + 1)]));
      // It once hung here: the group went to the dead worker, and no answer ever came.
      assert.deepEqual(await pool.drain(), new Array(20).fill(undefined));
      for (let i = 0; i < 20; i++) {
        assert.deepEqual(Deno.readFileSync(`${dir}/f${i}`), bytesOf(50, i + 1));
      }
    } finally {
      await pool.close();
    }
  });
});

Deno.test("with transfer, a chunk that is its whole buffer moves to the worker; a view of part of one is copied", async () => {
  await withDir(async (dir) => {
    for (const transfer of [false, true]) {
      const pool = new FilePool({ workers: 1, maxBytes: 1 << 20, transfer });
      try {
        const whole = bytesOf(1000, 3);
        const shared = bytesOf(2000, 5);
        const part = shared.subarray(500, 1500);
        pool.submit(wholeFile(dir, `t-${transfer}`, [whole, part]));
        assert.deepEqual(await pool.drain(), [undefined]);
        assert.equal(whole.length, transfer ? 0 : 1000);
        assert.deepEqual(part, bytesOf(2000, 5).subarray(500, 1500));
        const expected = new Uint8Array(2000);
        expected.set(bytesOf(1000, 3));
        expected.set(bytesOf(2000, 5).subarray(500, 1500), 1000);
        assert.deepEqual(Deno.readFileSync(`${dir}/t-${transfer}`), expected);
      } finally {
        await pool.close();
      }
    }
  });
});

Deno.test("each file gets its own mode whatever the umask left of the mode it was made with", async () => {
  await withDir(async (dir) => {
    const pool = new FilePool({ workers: 1, maxBytes: 1 << 20 });
    const modes = [0o640, 0o666, 0o640, 0o777, 0o600, 0o1755, 0o666];
    try {
      modes.forEach((mode, i) => pool.submit(wholeFile(dir, `m${i}`, [bytesOf(10, i)], mode)));
      assert.deepEqual(await pool.drain(), modes.map(() => undefined));
      for (const [i, mode] of modes.entries()) {
        assert.equal(Deno.lstatSync(`${dir}/m${i}`).mode! & 0o7777, mode, `m${i}`);
      }
    } finally {
      await pool.close();
    }
  });
});

/** 5 folders of 20 files of 1-2 KiB, modes and times of their own. */
function smallTree(b: TreeBuilder): { root: BlobId; files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const dirs = Array.from({ length: 5 }, (_, d) =>
    b.dir(
      `d${d}`,
      Array.from({ length: 20 }, (_, f) => {
        const bytes = bytesOf(1000 + 50 * f, d * 20 + f + 1);
        files.set(`d${d}/f${f}`, bytes);
        return b.file(`f${f}`, [bytes], {
          mode: [0o644, 0o600, 0o755, 0o666][f % 4],
          mtimeMs: T + f,
          atimeMs: T,
        });
      }),
      { mode: 0o750, mtimeMs: T, atimeMs: T },
    ));
  return { root: b.tree(dirs), files };
}

async function checkTree(target: string, files: Map<string, Uint8Array>) {
  for (const [path, bytes] of files) {
    assert.deepEqual(await Deno.readFile(`${target}/${path}`), bytes, path);
    const f = Number(path.split("/f")[1]);
    const info = await Deno.lstat(`${target}/${path}`);
    assert.equal(info.mode! & 0o7777, [0o644, 0o600, 0o755, 0o666][f % 4], path);
    assert.equal(info.mtime!.getTime(), T + f, path);
  }
  assert.equal((await Deno.lstat(`${target}/d0`)).mode! & 0o7777, 0o750);
}

Deno.test("a restore whose workers fall behind writes the rest itself: every file whole, with its metadata", async () => {
  const b = new TreeBuilder();
  const { root, files } = smallTree(b);
  // Fresh bytes on every get, as a session's: the restore may move them to its worker.
  const source = {
    get: (id: BlobId, kind: BlobKind) => b.blobs.get(id, kind).then((raw) => raw.slice()),
  };
  await withDir(async (dir) => {
    const report = await restore(source, root, {
      target: dir,
      fileWorkerBytes: 1,
      transferChunks: true,
    });
    assert.equal(report.files, 100);
    assert.equal(report.failed, 0);
    await checkTree(dir, files);
  });
});

Deno.test("without transferChunks a source's blobs stay whole: a second restore from it gets them all", async () => {
  const b = new TreeBuilder();
  const { root, files } = smallTree(b);
  await withDir(async (dir) => {
    for (const target of [`${dir}/one`, `${dir}/two`]) {
      const report = await restore(b.blobs, root, { target });
      assert.equal(report.failed, 0);
      await checkTree(target, files);
    }
  });
});
