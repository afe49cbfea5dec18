/**
 * `server.ts verify` as a repository check (`storage/embedded/verify.ts`) and `server.ts export`
 * of chunked files, on roots written by a real server: packs damaged on disk in every way the
 * check knows (a flipped byte, a truncated pack, a deleted pack, a header that lies), the modes
 * (`--structure-only`, the default, `--read-data`, `--read-data-subset N%`), and exit codes.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { toHex } from "../common/hex.ts";
import { decodePackHeader, decodePackTrailer, encodePackTail } from "../repository/pack_format.ts";
import { PACK_TRAILER_BYTES } from "../repository/pack_format.ts";
import { type VerifyReport, verifyRoot } from "../storage/embedded/verify.ts";
import { startTestServer } from "./_helpers.ts";
import { chunksOf, flipByte, packFiles, randomBytes } from "./_packs.ts";
import { runCli } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;
const USER = 5;

/** A root written by a real server (stopped before the test looks), removed at the end. */
async function rootWith(
  files: Array<[string, Uint8Array]>,
  userId = USER,
): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "backup-verify-" });
  {
    await using t = await startTestServer({ root });
    using client = await BackupClient.connect({ userId, port: t.port });
    for (const [name, content] of files) {
      await client.backup(name, ReadableStream.from([content]), content.length);
    }
  }
  return { root, [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
}

/** `server.ts verify` with read permission on the root only: it writes nothing. */
function verifyCli(root: string, ...flags: string[]) {
  return runCli("server.ts", ["verify", "--root", root, "--json", ...flags], {
    denoFlags: [`--allow-read=${root}`],
  });
}

/** The JSON lines of a `--json` run. */
function jsonLines(stdout: string): Array<Record<string, Record<string, unknown>>> {
  return stdout.trim().split("\n").map((line) => JSON.parse(line));
}

const names = (report: VerifyReport, kind: string) =>
  report.problems.filter((problem) => problem.kind === kind && problem.name !== undefined)
    .map((problem) => problem.name).sort();

Deno.test("a clean root holds in every mode, exit 0, with read permission only", async () => {
  const big = randomBytes(3 * MiB);
  await using store = await rootWith([
    ["small.txt", new TextEncoder().encode("hello")],
    ["big.bin", big],
    ["same/big.bin", big], // the same chunks: no new pack
    ["text.log", new TextEncoder().encode("a line that repeats\n".repeat(100_000))], // zstd
    ["replaced.bin", randomBytes(MiB)],
    ["replaced.bin", randomBytes(MiB)], // the first becomes a past version
  ]);
  const packs = (await packFiles(store.root)).length;
  assert.equal(packs, 4, "one pack per upload that brought new chunks");
  for (const data of ["structure", "versions", "all", { subsetPercent: 50 }] as const) {
    const report = await verifyRoot({ root: store.root, data });
    assert.deepEqual(report.problems, [], JSON.stringify(data));
    assert.deepEqual(report.warnings, []);
    assert.equal(report.versions, 6);
    assert.equal(report.packs, packs);
  }
  const all = await verifyRoot({ root: store.root, data: "all" });
  assert.equal(all.packsRead, packs);
  assert.equal(all.bytes, 5 + 2 * big.length + 2_000_000 + 2 * MiB);
  const structure = await verifyRoot({ root: store.root, data: "structure" });
  assert.equal(structure.bytes, 0, "structure only reads no version");
  assert.equal(structure.chunksRead, 0);

  for (const flags of [[], ["--structure-only"], ["--read-data"], ["--read-data-subset", "10%"]]) {
    const result = await verifyCli(store.root, ...flags);
    assert.equal(result.code, 0, `${flags}: ${result.stdout}${result.stderr}`);
    const [{ summary }] = jsonLines(result.stdout);
    assert.equal(summary.ok, true);
    assert.equal(summary.packs, packs);
  }
  const text = await runCli("server.ts", ["verify", "--root", store.root], {
    denoFlags: [`--allow-read=${store.root}`],
  });
  assert.match(
    text.stdout,
    /^verified 6 versions \(.* read\), 4 packs \(0 read whole\), \d+ chunks read: all match$/m,
  );
});

Deno.test("a flipped byte inside a pack: verify names every file holding the chunk, exit 1", async () => {
  const shared = randomBytes(3 * MiB);
  await using store = await rootWith([
    ["a.bin", shared],
    ["dup/a-copy.bin", shared],
    ["other.bin", randomBytes(2 * MiB)],
  ]);
  const [first] = chunksOf(store.root, USER, "a.bin");
  assert.equal(first.compression, "none", "random bytes are stored as they are");
  await flipByte(first.path, first.offset + 1000);
  const chunk = toHex(first.id);

  const structure = await verifyRoot({ root: store.root, data: "structure" });
  assert.deepEqual(structure.problems, [], "the structure still holds: only data shows it");

  const byVersion = await verifyRoot({ root: store.root });
  assert.deepEqual(names(byVersion, "bad-chunk"), ["a.bin", "dup/a-copy.bin"]);
  assert.equal(byVersion.problems.length, 2, "other.bin holds");
  for (const problem of byVersion.problems) assert.deepEqual(problem.chunks, [chunk]);

  const all = await verifyRoot({ root: store.root, data: "all" });
  const inPack = all.problems.find((problem) => problem.pack !== undefined)!;
  assert.equal(inPack.kind, "bad-chunk");
  assert.deepEqual(inPack.chunks, [chunk]);
  assert.deepEqual(inPack.files!.map((file) => file.name).sort(), ["a.bin", "dup/a-copy.bin"]);
  assert.equal(inPack.pack, first.pack);

  const result = await verifyCli(store.root, "--read-data");
  assert.equal(result.code, 1);
  const lines = jsonLines(result.stdout);
  assert.equal(lines.at(-1)!.summary.ok, false);
  assert.equal(lines.at(-1)!.summary.problems, 3);
  const text = await runCli("server.ts", ["verify", "--root", store.root], {
    denoFlags: [`--allow-read=${store.root}`],
  });
  assert.equal(text.code, 1);
  assert.match(
    text.stdout,
    new RegExp(`^BAD-CHUNK user ${USER} "a.bin" \\(version \\d+, current\\): .*${chunk}`, "m"),
  );
  assert.match(text.stdout, /: 2 problems$/m);
});

Deno.test("a truncated pack, a deleted pack and a pack header that lies are each found, with their files", async () => {
  await using store = await rootWith([
    ["cut.bin", randomBytes(2 * MiB)],
    ["gone.bin", randomBytes(2 * MiB)],
    ["lies.bin", randomBytes(2 * MiB)],
    ["fine.bin", randomBytes(2 * MiB)],
  ]);
  const cut = chunksOf(store.root, USER, "cut.bin")[0];
  const gone = chunksOf(store.root, USER, "gone.bin")[0];
  const lies = chunksOf(store.root, USER, "lies.bin")[0];
  const cutSize = (await Deno.stat(cut.path)).size;
  await Deno.truncate(cut.path, cutSize - 100); // the trailer and some header: chunks intact
  await Deno.remove(gone.path);
  await rewriteHeader(lies.path, (entries) => {
    entries[0].id = entries[0].id.slice();
    entries[0].id[0] ^= 0xff; // a header that decodes (its digest redone) but names another chunk
  });

  for (const data of ["structure", "versions"] as const) {
    const report = await verifyRoot({ root: store.root, data });
    const byPack = new Map(report.problems.filter((p) => p.pack).map((p) => [p.pack, p]));
    assert.equal(byPack.get(cut.pack)?.kind, "pack-size", data);
    assert.match(byPack.get(cut.pack)!.detail, new RegExp(`holds ${cutSize - 100} bytes`));
    assert.equal(byPack.get(gone.pack)?.kind, "missing-pack", data);
    assert.equal(byPack.get(lies.pack)?.kind, "pack-header", data);
    assert.match(byPack.get(lies.pack)!.detail, /disagrees with the index/);
    for (
      const [pack, name] of [[cut.pack, "cut.bin"], [gone.pack, "gone.bin"], [
        lies.pack,
        "lies.bin",
      ]]
    ) {
      assert.deepEqual(byPack.get(pack)!.files!.map((file) => file.name), [name], name);
    }
    assert.equal(byPack.size, 3, "fine.bin's pack holds");
    // Reading versions finds the lost pack's file too; the others' chunks are where the index says.
    assert.deepEqual(names(report, "missing-chunk"), data === "versions" ? ["gone.bin"] : []);
  }
  const result = await verifyCli(store.root, "--structure-only");
  assert.equal(result.code, 1);
  assert.equal(jsonLines(result.stdout).at(-1)!.summary.problems, 3);
});

Deno.test("--read-data-subset reads the chunks of N% of the packs, picked at random", async () => {
  await using store = await rootWith([
    ["p1.bin", randomBytes(MiB)],
    ["p2.bin", randomBytes(MiB)],
    ["p3.bin", randomBytes(MiB)],
    ["p4.bin", randomBytes(MiB)],
  ]);
  const last = chunksOf(store.root, USER, "p4.bin")[0]; // in the pack indexed last
  await flipByte(last.path, last.offset);
  const subset = (subsetPercent: number, random?: () => number) =>
    verifyRoot({ root: store.root, data: { subsetPercent }, random });

  const none = await subset(0);
  assert.deepEqual([none.packs, none.packsRead, none.chunksRead, none.problems.length], [
    4,
    0,
    0,
    0,
  ]);
  const firstHalf = await subset(50, () => 0); // the draw picks the first packs
  assert.deepEqual([firstHalf.packsRead, firstHalf.problems.length], [2, 0]);
  const lastHalf = await subset(50, () => 0.999); // ...or the last ones
  assert.equal(lastHalf.packsRead, 2);
  assert.deepEqual(lastHalf.problems.map((p) => [p.kind, p.files?.map((f) => f.name)]), [
    ["bad-chunk", ["p4.bin"]],
  ]);
  assert.equal((await subset(10)).packsRead, 1, "a share of at least one pack reads one");
  assert.equal((await subset(100)).packsRead, 4);
  const versionsRead = (await subset(100)).bytes;
  assert.equal(versionsRead, 0, "chunked versions are not read again: their packs were");

  assert.equal((await verifyCli(store.root, "--read-data-subset", "100%")).code, 1);
  assert.equal((await verifyCli(store.root, "--read-data-subset", "0%")).code, 0);
  for (
    const [flags, message] of [
      [["--read-data-subset", "10"], /takes a percentage such as 10%/],
      [["--read-data-subset", "101%"], /takes a percentage/],
      [["--read-data", "--structure-only"], /--structure-only and --read-data exclude each other/],
    ] as const
  ) {
    const result = await verifyCli(store.root, ...flags);
    assert.equal(result.code, 2, flags.join(" "));
    assert.match(result.stderr, message);
  }
});

Deno.test("a pack the index does not know is a warning, not a problem", async () => {
  await using store = await rootWith([["a.bin", randomBytes(MiB)]]);
  const [pack] = await packFiles(store.root);
  const stray = pack.replace(/\/[0-9a-f]{2}\/[0-9a-f]{32}$/, "/ab/ab" + "0".repeat(30));
  await Deno.mkdir(stray.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.copyFile(pack, stray);
  const report = await verifyRoot({ root: store.root });
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings.map((w) => [w.kind, w.pack]), [
    ["unindexed-pack", `packs/ab/ab${"0".repeat(30)}`],
  ]);
  const result = await verifyCli(store.root);
  assert.equal(result.code, 0);
  assert.equal(jsonLines(result.stdout)[0].warning.kind, "unindexed-pack");
});

Deno.test("export writes chunked files byte for byte, and stops at a damaged chunk", async () => {
  const shared = randomBytes(3 * MiB + 12345);
  const text = new TextEncoder().encode("compressible text\n".repeat(200_000));
  await using store = await rootWith([
    ["x/shared.bin", shared],
    ["y/shared.bin", shared],
    ["text.log", text],
    ["small", new Uint8Array([1, 2, 3])],
  ]);
  assert.ok(chunksOf(store.root, USER, "x/shared.bin").length >= 2, "a file of several chunks");
  const out = await Deno.makeTempDir({ prefix: "backup-export-" });
  try {
    const exportTo = (to: string) =>
      runCli("server.ts", ["export", "--root", store.root, "--user", `${USER}`, "--to", to], {
        denoFlags: [`--allow-read=${store.root},${out}`, `--allow-write=${out}`],
      });
    const result = await exportTo(`${out}/1`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await Deno.readFile(`${out}/1/x/shared.bin`), shared);
    assert.deepEqual(await Deno.readFile(`${out}/1/y/shared.bin`), shared);
    assert.deepEqual(await Deno.readFile(`${out}/1/text.log`), text);
    assert.deepEqual(await Deno.readFile(`${out}/1/small`), new Uint8Array([1, 2, 3]));

    const [, second] = chunksOf(store.root, USER, "x/shared.bin");
    await flipByte(second.path, second.offset + 7);
    const damaged = await exportTo(`${out}/2`);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stderr, /x\/shared\.bin: its bytes do not match its SHA-256/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** Rewrites a pack's header and trailer from its decoded entries, changed by `change`. */
async function rewriteHeader(
  path: string,
  change: (entries: ReturnType<typeof decodePackHeader>) => void,
): Promise<void> {
  const pack = await Deno.readFile(path);
  const trailer = decodePackTrailer(pack.subarray(pack.length - PACK_TRAILER_BYTES));
  const tailAt = pack.length - PACK_TRAILER_BYTES - trailer.headerBytes;
  const entries = decodePackHeader(
    pack.subarray(tailAt, pack.length - PACK_TRAILER_BYTES),
    trailer,
    pack.length,
  );
  change(entries);
  pack.set(encodePackTail(entries), tailAt);
  await Deno.writeFile(path, pack);
}

const FIXTURE = new URL("./fixtures/store-fcbb332/", import.meta.url).pathname;
/** The clock the server that wrote the fixture had (`tests/fixtures/store-fcbb332/README.md`). */
const FIXTURE_WRITTEN_MS = 1_767_000_000_000;
const FIXTURE_DATA_FILE = "data/33/33a0a9b5f7578ee18cdd9e8c26f67377";

Deno.test("a root of data files (schema 2) is checked before and after its upgrade; chunks beside it", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-verify-fcbb332-" });
  try {
    for (
      const path of ["index.sqlite", FIXTURE_DATA_FILE, "data/35/352d6887904baf22199759723bf9ca6d"]
    ) {
      await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.copyFile(`${FIXTURE}${path}`, `${root}/${path}`);
    }
    const before = await verifyRoot({ root }); // read-only: the index stays at schema 2
    assert.deepEqual(before.problems, []);
    assert.ok(before.versions > 0 && before.bytes > 140_000, JSON.stringify(before));
    assert.equal(before.packs, 0);

    await flipByte(`${root}/${FIXTURE_DATA_FILE}`, 10);
    const [mismatch] = (await verifyRoot({ root })).problems;
    assert.equal(mismatch.kind, "mismatch");
    const damaged = mismatch.name!;

    {
      await using t = await startTestServer({ root, now: () => FIXTURE_WRITTEN_MS + 60_000 });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      const fresh = randomBytes(MiB);
      await client.backup("fresh.bin", ReadableStream.from([fresh]), fresh.length);
    }
    const after = await verifyRoot({ root, data: "all" });
    assert.deepEqual(after.problems.map((p) => [p.kind, p.name]), [["mismatch", damaged]]);
    assert.equal(after.packs, 1);
    assert.equal(after.versions, before.versions + 1);

    await Deno.remove(`${root}/${FIXTURE_DATA_FILE}`);
    const structure = await verifyRoot({ root, data: "structure" });
    assert.deepEqual(structure.problems.map((p) => [p.kind, p.name]), [["missing", damaged]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("on a live root, versions and packs removed meanwhile are not problems", async () => {
  let clock = Date.UTC(2026, 0, 1);
  const DAY = 86_400_000;
  await using t = await startTestServer({ now: () => clock, retention: { keepDays: 1 } });
  using client = await BackupClient.connect({ userId: USER, port: t.port });
  const ROUNDS = 12;
  let writing = true;
  let stop = false;
  const writer = (async () => {
    try {
      for (let round = 0; round < ROUNDS && !stop; round++) {
        for (const name of ["a.bin", "b.bin", "c.bin"]) {
          const content = randomBytes(MiB + round * 1000);
          await client.backup(name, ReadableStream.from([content]), content.length);
        }
        if (round % 3 === 2) await client.delete("c.bin");
        clock += 2 * DAY; // every past version expires: prune removes it, GC its chunks and packs
        await t.server.storage.prune();
      }
    } finally {
      writing = false;
    }
  })();
  const modes = ["versions", "all", "structure"] as const;
  let runs = 0;
  try {
    while (writing || runs < modes.length) {
      const report = await verifyRoot({ root: t.root, data: modes[runs % modes.length] });
      assert.deepEqual(report.problems, [], `run ${runs}`);
      runs++;
    }
  } finally {
    stop = true; // a failed check ends the writer too, so that its error is the one reported
    await writer;
  }
  assert.ok(runs >= modes.length);
  assert.ok(
    (await packFiles(t.root)).length < ROUNDS,
    "garbage collection removed packs meanwhile",
  );
  assert.deepEqual((await verifyRoot({ root: t.root, data: "all" })).problems, []);
});
