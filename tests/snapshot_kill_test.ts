/**
 * SIGKILL at the steps of a snapshot run, end to end (issue 22, "Done means"): the client CLI and
 * the server as real processes over TLS, a tree of a few MiB and many small files. The client
 * killed during the walk, mid-upload and right after its commit request went out; the server
 * killed in a commit, at `packs-durable` and at `durable` (`_snapshot_kill_server.ts`). Each time
 * no half snapshot is listed (every one listed restores byte for byte), verify is clean, and the
 * next run completes sending no blob the server had: its log names every blob each run put, so
 * the tests compare ids and count the bytes received.
 */
import assert from "node:assert/strict";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { runCli } from "./_processes.ts";
import { killWorkspace, type LoggedPut, makeTree, putsIn, USER_ID } from "./_snapshot_kill.ts";
import {
  acked,
  assertNoResend,
  completeRun,
  killClient,
  killPoint,
  sum,
  TREE_SLACK,
  wholeSnapshots,
} from "./_snapshot_kill_checks.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** 3 MiB in three files and 400 files of 1-8 KiB: about 4.8 MiB, 420 blobs. */
const TREE = { bigFiles: 3, smallFiles: 400 };
/** `server.ts verify` of the root exits 0. */
async function verifyClean(root: string): Promise<void> {
  const verify = await runCli("server.ts", ["verify", `--root=${root}`, "--read-data"], {
    denoFlags: [`--allow-read=${root}`],
  });
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
}

Deno.test("the client SIGKILLed during the walk and twice mid-upload: no snapshot listed; the next run sends only what the server never took", async () => {
  await using k = await killWorkspace();
  // More small files than the other tests: a kill lands some puts after its log line (hundreds on
  // a loaded machine), and the second killed run must still have more than 150 puts to make.
  const total = await makeTree(k.src, { ...TREE, smallFiles: 1200 });
  const server = await k.startServer();
  try {
    const had = new Set<string>();
    let hadBytes = 0;
    const killedRun = async (what: string, match: (line: Record<string, unknown>) => boolean) => {
      const from = server.lines.length;
      const client = k.spawnClient(server, "backup", k.src, "--host=h", "--json");
      await killPoint(server, client, match, from, what);
      await killClient(client);
      assert.deepEqual(await wholeSnapshots(k, server), [], `after the kill ${what}`);
      const puts = putsIn(server.lines, from);
      assertNoResend(had, acked(puts));
      for (const put of acked(puts)) {
        had.add(put.id);
        hadBytes += put.bytes;
      }
      return puts;
    };
    // The session is open and the first chunks are asked about: the walk is under way.
    await killedRun("during the walk", (line) => line.op === "missing");
    for (const point of [100, 150]) {
      let taken = 0;
      const isPut = (line: Record<string, unknown>) => line.op === "put-blob" && ++taken >= point;
      const puts = await killedRun(`at put ${point}`, isPut);
      assert.ok(acked(puts).length >= point, `${acked(puts).length} blobs taken`);
    }
    const { result, puts } = await completeRun(k, server);
    assertNoResend(had, puts);
    assert.ok(
      sum(puts) <= total - hadBytes + 4 * TREE_SLACK,
      `${sum(puts)} bytes received of ${total} after ${hadBytes} taken before`,
    );
    assert.deepEqual(await wholeSnapshots(k, server), [result.snapshot]);
  } finally {
    await server.kill();
  }
  await verifyClean(k.root);
});

Deno.test("the client SIGKILLed right after its commit request went out: the snapshot is whole or absent; the next run sends nothing it sent", async () => {
  await using k = await killWorkspace();
  await makeTree(k.src, TREE);
  const server = await k.startHookServer("packs-durable", 16 * 1024 * 1024);
  try {
    const client = k.spawnClient(server, "backup", k.src, "--host=h", "--json");
    await killPoint(server, client, (line) => line.msg === "paused", 0, "its commit");
    await killClient(client);
    await server.release(); // the commit goes on, its answer to a closed connection
    const commit = await server.waitFor((line) => line.op === "commit-snapshot");
    assert.ok(commit);
    const first = acked(putsIn(server.lines));
    const listed = await wholeSnapshots(k, server);
    assert.equal(listed.length, 1, "the commit the server received was whole: it is listed");
    const { result, puts } = await completeRun(k, server);
    assert.equal(result.parent, listed[0]);
    assertNoResend(new Set(first.map((put) => put.id)), puts);
    assert.ok(sum(puts) <= TREE_SLACK, `${sum(puts)} bytes sent after a committed run`);
    assert.deepEqual(await wholeSnapshots(k, server), [...listed, result.snapshot]);
  } finally {
    await server.kill();
  }
  await verifyClean(k.root);
});

/** Which of the blobs put the root's store has, opened as a restart would (the server is dead). */
async function storedOf(root: string, puts: LoggedPut[]): Promise<Set<string>> {
  const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0, hashWorkers: 0 });
  try {
    const session = storage.snapshots.openSession(USER_ID);
    const missing = await session.missing(puts.map((put) => Uint8Array.fromHex(put.id)));
    await session.close();
    return new Set(puts.filter((_, i) => !missing[i]).map((put) => put.id));
  } finally {
    await storage.close();
  }
}

for (const step of ["packs-durable", "durable"]) {
  Deno.test(`the server SIGKILLed in a commit at ${step}: no half snapshot; verify is clean; the next run sends only what the server lacks`, async () => {
    await using k = await killWorkspace();
    const total = await makeTree(k.src, TREE);
    // Packs of 256 KiB: most are filled, and indexed, before the commit; the last one is not.
    const hooked = await k.startHookServer(step, 256 * 1024);
    let puts: LoggedPut[];
    try {
      const client = k.spawnClient(hooked, "backup", k.src, "--host=h", "--json");
      await killPoint(hooked, client, (line) => line.msg === "paused", 0, `the commit's ${step}`);
      await hooked.kill();
      const { status } = await client.ended;
      assert.notEqual(status.code, 0, "the client saw its server die");
      assert.ok(!client.lines.some((line) => line.ok === true));
      puts = acked(putsIn(hooked.lines));
    } finally {
      await hooked.kill();
    }
    const had = await storedOf(k.root, puts);
    let hadBytes = 0;
    for (const put of puts) if (had.has(put.id)) hadBytes += put.bytes;
    if (step === "durable") assert.equal(had.size, puts.length, "the commit was durable");
    else {
      assert.ok(had.size > 0, "the packs filled during the run were indexed");
      assert.ok(had.size < puts.length, "the last pack was not");
    }
    await verifyClean(k.root);

    const server = await k.startServer();
    try {
      const listed = await wholeSnapshots(k, server);
      assert.equal(listed.length, step === "durable" ? 1 : 0);
      const { result, puts: again } = await completeRun(k, server);
      assertNoResend(had, again);
      assert.ok(
        sum(again) <= total - hadBytes + 2 * TREE_SLACK,
        `${sum(again)} bytes received of ${total}; the server had ${hadBytes}`,
      );
      assert.deepEqual(await wholeSnapshots(k, server), [...listed, result.snapshot]);
    } finally {
      await server.kill();
    }
    await verifyClean(k.root);
  });
}
