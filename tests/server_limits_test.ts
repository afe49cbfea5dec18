import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { concat, eventually, RawClient, startTestServer, toHex } from "./_helpers.ts";
import { storedNames, versionCount } from "../harness/stored.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** What a version of a one-byte name costs besides its bytes (see `storage/quota_charge.ts`). */
const CHARGE = indexVersionCharge(1);

const backup = (name: string, size: number, userId = 1) =>
  concat(
    encodeRequestHeader({ userId, op: Op.Backup, name, payloadSize: size }),
    new Uint8Array(size).fill(size % 256),
  );
const backupHeader = (name: string, size: number, userId = 1) =>
  encodeRequestHeader({ userId, op: Op.Backup, name, payloadSize: size });

async function statusOf(client: RawClient, request: Uint8Array): Promise<number> {
  await client.send(request);
  return (await client.readResponse()).header.status;
}

Deno.test("keeping no past versions, the quota counts stored bytes; a replace counts the difference", async () => {
  await using t = await startTestServer({
    limits: { quotaBytes: 1000 + 2 * CHARGE }, // two versions of one-byte names: 1000 bytes
    retention: { keepDays: 0 },
  });
  using client = await RawClient.connect(t.port);
  assert.equal(await statusOf(client, backup("a", 600)), Status.Done);
  assert.equal(await statusOf(client, backup("a", 900)), Status.Done); // replaces: 900 in all
  assert.equal(await statusOf(client, backup("b", 100)), Status.Done); // 1000: exactly full
  // Another user has a quota of their own.
  assert.equal(await statusOf(client, backup("a", 1000 + CHARGE, 2)), Status.Done);
  // One byte more is refused before any payload byte is read, and the connection is closed.
  await client.send(backupHeader("c", 1));
  assert.equal(toHex((await client.readResponse()).raw), "01eb03");
  assert.ok(await client.isClosedByServer());
  using again = await RawClient.connect(t.port);
  assert.equal(
    await statusOf(again, encodeRequestHeader({ userId: 1, op: Op.Delete, name: "a" })),
    Status.Done,
  );
  assert.equal(await statusOf(again, backup("c", 900)), Status.Done); // room freed by the delete
  assert.deepEqual(storedNames(t.root), ["1/b", "1/c", "2/a"]);
});

Deno.test("past versions count against the quota until they are pruned", async () => {
  let now = Date.UTC(2026, 0, 1);
  await using t = await startTestServer({
    limits: { quotaBytes: 1000 + 2 * CHARGE },
    retention: { keepDays: 1 },
    pruneIntervalMs: 0,
    now: () => now,
  });
  using client = await RawClient.connect(t.port);
  assert.equal(await statusOf(client, backup("a", 600)), Status.Done);
  // Replacing keeps the 600 bytes as a past version: 600 + 600 would pass the quota.
  await client.send(backupHeader("a", 600));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  using again = await RawClient.connect(t.port);
  assert.equal(await statusOf(again, backup("a", 400)), Status.Done); // 600 past + 400 current
  assert.equal(versionCount(t.root), 2);
  // A day later the past version is pruned and its room is free again.
  now += 86_400_000 + 1;
  assert.equal(await t.server.storage.prune(), 1);
  assert.equal(versionCount(t.root), 1);
  assert.equal(await statusOf(again, backup("b", 600)), Status.Done);
});

Deno.test("the quota counts files already on disk at start-up", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/1/old`, { recursive: true });
    await Deno.writeFile(`${root}/1/old/data`, new Uint8Array(800));
    const quotaBytes = 1000 + indexVersionCharge("old/data".length) + indexVersionCharge(3);
    await using t = await startTestServer({ root, limits: { quotaBytes } });
    using client = await RawClient.connect(t.port);
    await client.send(backupHeader("new", 201));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError);
    using next = await RawClient.connect(t.port);
    assert.equal(await statusOf(next, backup("new", 200)), Status.Done);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("concurrent uploads cannot together pass the quota", async () => {
  await using t = await startTestServer({ limits: { quotaBytes: 300_000 } });
  using first = await RawClient.connect(t.port);
  using second = await RawClient.connect(t.port);
  await first.send(concat(backupHeader("x", 200_000), new Uint8Array(10)));
  // Wait until the first upload holds its room, then try the second.
  await eventually(
    () => Promise.resolve(t.server.stats().uploadsInFlight === 1),
    "the first upload",
  );
  await second.send(backupHeader("y", 200_000));
  assert.equal((await second.readResponse()).header.status, Status.GeneralError);
  await first.send(new Uint8Array(200_000 - 10));
  assert.equal((await first.readResponse()).header.status, Status.Done);
});

Deno.test("a payload trickling under the rate floor is closed, a faster one is not", async () => {
  await using t = await startTestServer({
    limits: { frameTimeoutMs: 200, minTransferRate: 1000 },
  });
  using slow = await RawClient.connect(t.port);
  await slow.send(backupHeader("slow", 5000));
  // One byte every 50 ms never trips the 200 ms stall timeout, but is 20 bytes/s.
  const trickle = (async () => {
    try {
      for (let i = 0; i < 40; i++) {
        await slow.send(new Uint8Array(1));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } catch {
      // the server closed it: what the test expects
    }
  })();
  const started = performance.now();
  assert.ok(await slow.isClosedByServer());
  const elapsed = performance.now() - started;
  await trickle;
  assert.ok(elapsed < 1500, `closed after ${Math.round(elapsed)} ms`);
  // The server logs a close just after closing: the client may see the close first.
  const reasons = () => t.logs.map((line) => JSON.parse(line).reason).filter(Boolean);
  await eventually(() => Promise.resolve(reasons().length >= 1), "the close line");
  assert.deepEqual(reasons(), ["payload slower than 1000 bytes/s"]);
  assert.deepEqual(storedNames(t.root), []);
  // Under the same limits, a payload sent at full speed is stored.
  using fast = await RawClient.connect(t.port);
  assert.equal(await statusOf(fast, backup("fast", 5000)), Status.Done);
});

Deno.test("hundreds of stalled connections do not delay a well-behaved client", async () => {
  await using t = await startTestServer({
    // All 300 come from 127.0.0.1: no per-address cap here.
    limits: {
      maxConnections: 1000,
      maxConnectionsPerAddress: 0,
      idleTimeoutMs: 10_000,
      frameTimeoutMs: 10_000,
    },
  });
  const stalled: RawClient[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      const client = await RawClient.connect(t.port);
      stalled.push(client);
      // A third send nothing, a third half a header, a third a header and part of the payload.
      if (i % 3 === 1) await client.send(backupHeader("stall", 100).subarray(0, 7));
      if (i % 3 === 2) await client.send(concat(backupHeader("stall", 100), new Uint8Array(10)));
    }
    using good = await RawClient.connect(t.port);
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      assert.equal(await statusOf(good, backup(`good${i}`, 4096, 9)), Status.Done);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const p50 = latencies[25];
    const worst = latencies.at(-1)!;
    console.log(
      `well-behaved client with 300 stalled peers: p50 ${p50.toFixed(2)} ms, max ${
        worst.toFixed(2)
      } ms`,
    );
  } finally {
    for (const client of stalled) client[Symbol.dispose]();
  }
});

Deno.test("a client that vanishes mid-download leaves the server serving", async () => {
  await using t = await startTestServer();
  using setup = await RawClient.connect(t.port);
  assert.equal(await statusOf(setup, backup("big", 4_000_000)), Status.Done);
  const leaver = await RawClient.connect(t.port);
  await leaver.send(encodeRequestHeader({ userId: 1, op: Op.Retrieve, name: "big" }));
  await leaver.readExactly(100_000);
  leaver[Symbol.dispose]();
  await setup.send(encodeRequestHeader({ userId: 1, op: Op.Retrieve, name: "big" }));
  const whole = await setup.readResponse();
  assert.equal(whole.payload.length, 4_000_000);
  assert.deepEqual(storedNames(t.root), ["1/big"]);
});
