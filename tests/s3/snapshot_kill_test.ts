/**
 * SIGKILL at the steps of a snapshot run on S3 (issue 22, "Done means"), as
 * `../snapshot_kill_test.ts` does on the embedded store: `client.ts` and `server.ts --storage s3`
 * as real processes over TLS, a tree of a few MiB and many small files. The client is killed during
 * the walk and twice mid-upload; the server is killed in a commit at three points, each held by a
 * proxy in front of the bucket (`_hold_proxy.ts`): at the PUT of the commit's first index object
 * (its last pack stored, nothing of the session indexed), at the PUT of the snapshot object before
 * it reaches the store, and once the store answered that PUT (before the server heard); and, on a
 * tree of over two packs, once its first pack is stored and indexed behind the puts, its second
 * pack's PUT held (the run still putting or already committing): the next run sends nothing the
 * first pack held. Each time
 * no half snapshot is listed (every one listed restores byte for byte), a second server on the
 * bucket lists the snapshot only if its object was stored, and the next run completes sending no
 * blob the store had: the server's log names every blob each run put, so the tests compare ids and
 * count the bytes received.
 */
import assert from "node:assert/strict";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { killWorkspace, type LoggedPut, makeTree, putsIn, USER_ID } from "../_snapshot_kill.ts";
import { type HoldAt, HoldProxy } from "./_hold_proxy.ts";
import { startS3ServerProc, storedOf } from "./_snapshot_kill_s3.ts";
import {
  acked,
  assertNoResend,
  completeRun,
  killClient,
  killPoint,
  sum,
  TREE_SLACK,
  wholeSnapshots,
} from "../_snapshot_kill_checks.ts";

// The S3 client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

/** 3 MiB in three files and 400 files of 1-8 KiB: about 4.8 MiB, 420 blobs. */
const TREE = { bigFiles: 3, smallFiles: 400 };

/** A fresh prefix, its proxy, and the prefix emptied at the end. */
async function bucketUnderTest(): Promise<
  { prefix: string; proxy: HoldProxy } & AsyncDisposable
> {
  const location = testLocation();
  const prefix = freshPrefix();
  const proxy = await HoldProxy.start(location.endpoint, location.bucket, prefix);
  return {
    prefix,
    proxy,
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      const bucket = new S3Client(location);
      for await (const page of bucket.list(prefix)) {
        await Promise.all(page.map(({ key }) => bucket.delete(key)));
      }
    },
  };
}

Deno.test("s3: the client SIGKILLed during the walk and twice mid-upload: no snapshot listed; the next run sends only what the server never took", async () => {
  await using k = await killWorkspace();
  await using b = await bucketUnderTest();
  // As on the embedded store: enough small files that the second killed run has puts to make.
  const total = await makeTree(k.src, { ...TREE, smallFiles: 1200 });
  const server = await startS3ServerProc(b.prefix, k.usersFile, b.proxy.endpoint);
  try {
    const had = new Set<string>();
    let hadBytes = 0;
    const killedRun = async (what: string, match: (line: Record<string, unknown>) => boolean) => {
      const from = server.lines.length;
      const callsFrom = b.proxy.calls.length;
      const client = k.spawnClient(server, "backup", k.src, "--host=h", "--json");
      await killPoint(server, client, match, from, what);
      await killClient(client);
      const taken = acked(putsIn(server.lines, from));
      // The connection's end closes the session, which indexes what it took (nothing before).
      if (taken.length > 0) {
        await b.proxy.waitForCall(
          (call) =>
            call.method === "PUT" && call.key.startsWith(`x/${USER_ID}/snap.`) &&
            call.status === 200,
          callsFrom,
        );
      }
      assert.deepEqual(await wholeSnapshots(k, server), [], `after the kill ${what}`);
      assertNoResend(had, taken);
      for (const put of taken) {
        had.add(put.id);
        hadBytes += put.bytes;
      }
      return taken;
    };
    await killedRun("during the walk", (line) => line.op === "missing");
    for (const point of [100, 150]) {
      let seen = 0;
      const isPut = (line: Record<string, unknown>) => line.op === "put-blob" && ++seen >= point;
      const taken = await killedRun(`at put ${point}`, isPut);
      assert.ok(taken.length >= point, `${taken.length} blobs taken`);
    }
    assert.equal((await storedOf(b.prefix, [...had].map(asPut))).size, had.size, "all indexed");
    const { result, puts } = await completeRun(k, server);
    assertNoResend(had, puts);
    console.log(
      `client killed thrice: ${had.size} blobs (${hadBytes} bytes) taken before; the rerun put ` +
        `${puts.length} blobs, ${sum(puts)} bytes, of a ${total}-byte tree`,
    );
    assert.ok(
      sum(puts) <= total - hadBytes + 4 * TREE_SLACK,
      `${sum(puts)} bytes received of ${total} after ${hadBytes} taken before`,
    );
    assert.deepEqual(await wholeSnapshots(k, server), [result.snapshot]);
  } finally {
    await server.kill();
  }
});

/** A blob id as a put, to ask a store about. */
const asPut = (id: string): LoggedPut => ({ id, bytes: 0, status: 231 });

/** Where the server is killed in a commit: the PUT held, where, and what is stored then. */
interface CommitPoint {
  what: string;
  match: (method: string, key: string) => boolean;
  at: HoldAt;
  /** Whether the run's blobs are indexed once the server is dead. */
  indexed: boolean;
  /** Whether the snapshot is stored. */
  stored: boolean;
}

const COMMIT_POINTS: CommitPoint[] = [
  {
    what: "its first index object's PUT (the last pack stored)",
    match: (method, key) =>
      method === "PUT" &&
      (key.startsWith(`t/${USER_ID}/`) || key.startsWith(`x/${USER_ID}/snap.`)),
    at: "request",
    indexed: false,
    stored: false,
  },
  {
    what: "the snapshot object's PUT, before the store has it",
    match: (method, key) => method === "PUT" && key.startsWith(`s/${USER_ID}/`),
    at: "request",
    indexed: true,
    stored: false,
  },
  {
    what: "the snapshot object's PUT, stored but not answered",
    match: (method, key) => method === "PUT" && key.startsWith(`s/${USER_ID}/`),
    at: "answer",
    indexed: true,
    stored: true,
  },
];

for (const point of COMMIT_POINTS) {
  Deno.test(`s3: the server SIGKILLed in a commit at ${point.what}: a second server lists the snapshot only if stored; the next run sends only what the store lacks`, async () => {
    await using k = await killWorkspace();
    await using b = await bucketUnderTest();
    const total = await makeTree(k.src, TREE);
    const hooked = await startS3ServerProc(b.prefix, k.usersFile, b.proxy.endpoint);
    let puts: LoggedPut[];
    let observed: string[];
    try {
      const holding = b.proxy.hold(point.match, point.at);
      const client = k.spawnClient(hooked, "backup", k.src, "--host=h", "--json");
      const held = await Promise.race([holding, client.ended.then(() => undefined)]);
      assert.ok(held, `the client ended before ${point.what}`);
      // While the commit is held: what another server on the bucket sees.
      const observer = await startS3ServerProc(b.prefix, k.usersFile);
      try {
        observed = await wholeSnapshots(k, observer);
      } finally {
        await observer.kill();
      }
      assert.equal(observed.length, point.stored ? 1 : 0, "listed by a second server");
      await hooked.kill();
      const { status } = await client.ended;
      assert.notEqual(status.code, 0, "the client saw its server die");
      assert.ok(!client.lines.some((line) => line.ok === true));
      puts = acked(putsIn(hooked.lines));
    } finally {
      await hooked.kill();
    }
    const had = await storedOf(b.prefix, puts);
    let hadBytes = 0;
    for (const put of puts) if (had.has(put.id)) hadBytes += put.bytes;
    assert.equal(had.size, point.indexed ? puts.length : 0, `${had.size} of ${puts.length} stored`);

    const server = await startS3ServerProc(b.prefix, k.usersFile);
    try {
      const listed = await wholeSnapshots(k, server);
      assert.deepEqual(listed, observed, "the restarted server lists what the second one did");
      const { result, puts: again } = await completeRun(k, server);
      assertNoResend(had, again);
      console.log(
        `server killed at ${point.what}: ${puts.length} blobs taken, ${had.size} ` +
          `(${hadBytes} bytes) in the store; the rerun put ${again.length} blobs, ` +
          `${sum(again)} bytes, of a ${total}-byte tree`,
      );
      assert.ok(
        sum(again) <= total - hadBytes + 2 * TREE_SLACK,
        `${sum(again)} bytes received of ${total}; the store had ${hadBytes}`,
      );
      if (point.stored) assert.equal(result.parent, listed[0]);
      assert.deepEqual(await wholeSnapshots(k, server), [...listed, result.snapshot]);
    } finally {
      await server.kill();
    }
  });
}

/** Over two 8 MiB packs of big files, then the small ones: about 20.8 MiB, 440 blobs. */
const PACKS_TREE = { bigFiles: 20, smallFiles: 400 };

Deno.test("s3: the server SIGKILLed once a pack is stored, the next one held: the rerun sends nothing the stored pack held", async () => {
  await using k = await killWorkspace();
  await using b = await bucketUnderTest();
  const total = await makeTree(k.src, PACKS_TREE);
  const hooked = await startS3ServerProc(b.prefix, k.usersFile, b.proxy.endpoint);
  let puts: LoggedPut[];
  try {
    // The second pack never reaches the store (so the run cannot commit); the first one's blobs
    // are indexed behind the puts meanwhile, or during the commit while it waits for the packs.
    const secondPack = new RegExp(`^p/${USER_ID}/[0-9a-f]{16}\\.2$`);
    const holding = b.proxy.hold(
      (method, key) => method === "PUT" && secondPack.test(key),
      "request",
    );
    const indexed = b.proxy.waitForCall((call) =>
      call.method === "PUT" && call.key.startsWith(`x/${USER_ID}/snap.`) && call.status === 200
    );
    const client = k.spawnClient(hooked, "backup", k.src, "--host=h", "--json");
    const reached = await Promise.race([
      Promise.all([holding, indexed]).then(() => true),
      client.ended.then(() => false),
    ]);
    assert.ok(
      reached,
      `the client ended before a pack was indexed and the next one held: ${
        JSON.stringify(b.proxy.calls.filter((call) => call.method !== "GET"))
      }`,
    );
    await hooked.kill();
    const { status } = await client.ended;
    assert.notEqual(status.code, 0, "the client saw its server die");
    assert.ok(!client.lines.some((line) => line.ok === true));
    puts = acked(putsIn(hooked.lines));
  } finally {
    await hooked.kill();
  }
  const had = await storedOf(b.prefix, puts);
  let hadBytes = 0;
  for (const put of puts) if (had.has(put.id)) hadBytes += put.bytes;
  assert.ok(hadBytes >= 4 * 1024 * 1024, `${had.size} blobs (${hadBytes} bytes) in the store`);

  const server = await startS3ServerProc(b.prefix, k.usersFile);
  try {
    assert.deepEqual(await wholeSnapshots(k, server), [], "no snapshot listed");
    const { result, puts: again } = await completeRun(k, server);
    assertNoResend(had, again);
    console.log(
      `server killed once a pack was stored: ${puts.length} blobs taken, ${had.size} ` +
        `(${hadBytes} bytes) in the store; the rerun put ${again.length} blobs, ` +
        `${sum(again)} bytes, of a ${total}-byte tree`,
    );
    assert.ok(
      sum(again) <= total - hadBytes + 2 * TREE_SLACK,
      `${sum(again)} bytes received of ${total}; the store had ${hadBytes}`,
    );
    assert.deepEqual(await wholeSnapshots(k, server), [result.snapshot]);
  } finally {
    await server.kill();
  }
});
