import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { concat, eventually, RawClient, startTestServer, toHex, utf8 } from "./_helpers.ts";
import { storedBytes, storedFiles, storedNames, versionCount } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const backupHeader = (name: string, size: number, userId = 1) =>
  encodeRequestHeader({ userId, op: Op.Backup, name, payloadSize: size });

Deno.test("an upload cut off mid-payload leaves the old version and none of its packs", async () => {
  await using t = await startTestServer();
  using first = await RawClient.connect(t.port);
  await first.send(concat(backupHeader("keep.txt", 3), utf8("old")));
  assert.equal((await first.readResponse()).header.status, Status.Done);

  const cut = await RawClient.connect(t.port);
  await cut.send(backupHeader("keep.txt", 64 * 1024 * 1024));
  // Random bytes (they do not compress): a full pack is put while the upload runs, then the
  // client vanishes.
  const random = new Uint8Array(1024 * 1024);
  for (let sent = 0; sent < 24; sent++) {
    for (let at = 0; at < random.length; at += 65_536) {
      crypto.getRandomValues(random.subarray(at, at + 65_536));
    }
    await cut.send(random);
  }
  await eventually(async () => (await storedFiles(t.root)).length > 0, "a pack of the upload");
  cut[Symbol.dispose]();
  await eventually(
    async () => t.server.stats().uploadsInFlight === 0 && (await storedFiles(t.root)).length === 0,
    "its removal",
  );

  await first.send(encodeRequestHeader({ userId: 1, op: Op.Retrieve, name: "keep.txt" }));
  assert.equal(new TextDecoder().decode((await first.readResponse()).payload), "old");
  assert.deepEqual(storedNames(t.root), ["1/keep.txt"]);
});

Deno.test("a header cut off at any byte closes quietly and the server serves on", async () => {
  await using t = await startTestServer();
  const whole = concat(backupHeader("a.txt", 2), utf8("hi"));
  for (let cut = 1; cut < whole.length; cut++) {
    const client = await RawClient.connect(t.port);
    await client.send(whole.subarray(0, cut));
    client[Symbol.dispose]();
  }
  using good = await RawClient.connect(t.port);
  await good.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal((await good.readResponse()).header.status, Status.NoFiles);
  assert.deepEqual(storedNames(t.root), []);
});

Deno.test("concurrent writers to one name never mix content", async () => {
  await using t = await startTestServer();
  const writers = 16;
  const size = 300_000;
  await Promise.all(Array.from({ length: writers }, async (_, i) => {
    using client = await BackupClient.connect({ userId: 2, port: t.port });
    const content = new Uint8Array(size).fill(i);
    await client.backup("shared.bin", ReadableStream.from([content]), size);
  }));
  const stored = storedBytes(t.root, 2, "shared.bin")!;
  assert.equal(stored.length, size);
  assert.ok(stored.every((byte) => byte === stored[0]), "one writer's bytes, whole");
  // Each replaced one is a past version: every data file belongs to one version, none is left over.
  assert.equal(versionCount(t.root), writers);
  assert.equal((await storedFiles(t.root)).length, writers);
});

Deno.test("64 concurrent clients each back up, list and retrieve their own files", async () => {
  await using t = await startTestServer();
  await Promise.all(Array.from({ length: 64 }, async (_, i) => {
    using client = await BackupClient.connect({ userId: 1000 + i, port: t.port });
    const content = utf8(`client ${i} `.repeat(100 * i));
    await client.backup(`c${i}/data`, ReadableStream.from([content]), content.length);
    assert.deepEqual(await client.list(), [`c${i}/data`]);
    const chunks: Uint8Array[] = [];
    await client.retrieve(`c${i}/data`, new WritableStream({ write: (c) => void chunks.push(c) }));
    assert.equal(toHex(concat(...chunks)), toHex(content));
  }));
  // Each upload counted once, however many shared a commit.
  assert.equal(t.server.stats().groupCommits.changes, 64);
});

Deno.test("an upload over --max-file-size gets 1003 before any byte is stored, and a close", async () => {
  await using t = await startTestServer({ limits: { maxFileSize: 1000 } });
  using client = await RawClient.connect(t.port);
  await client.send(backupHeader("big", 1001)); // no payload sent: the answer must not wait for it
  assert.equal(toHex((await client.readResponse()).raw), "01eb03");
  assert.ok(await client.isClosedByServer());
  using ok = await RawClient.connect(t.port);
  await ok.send(concat(backupHeader("fits", 1000), new Uint8Array(1000)));
  assert.equal((await ok.readResponse()).header.status, Status.Done);
  assert.deepEqual(storedNames(t.root), ["1/fits"]);
});

Deno.test("past --max-connections new connections get 1003 at once; served again later", async () => {
  await using t = await startTestServer({ limits: { maxConnections: 2 } });
  const a = await RawClient.connect(t.port);
  using b = await RawClient.connect(t.port);
  await eventually(() => Promise.resolve(t.server.connectionCount === 2), "two connections");
  using refused = await RawClient.connect(t.port);
  // It may already have sent a request: it still gets the 1003.
  await refused.send(concat(backupHeader("x", 100_000), new Uint8Array(100_000)));
  assert.equal(toHex((await refused.readResponse()).raw), "01eb03");
  assert.ok(await refused.isClosedByServer());
  a[Symbol.dispose]();
  await eventually(() => Promise.resolve(t.server.connectionCount === 1), "a slot to free up");
  using later = await RawClient.connect(t.port);
  await later.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal((await later.readResponse()).header.status, Status.NoFiles);
  await b.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal((await b.readResponse()).header.status, Status.NoFiles);
});

Deno.test("an idle connection and a stalled frame are closed after their timeouts", async () => {
  await using t = await startTestServer({ limits: { idleTimeoutMs: 150, frameTimeoutMs: 150 } });
  using idle = await RawClient.connect(t.port);
  using stalled = await RawClient.connect(t.port);
  await stalled.send(backupHeader("slow", 10).subarray(0, 5));
  using stalledPayload = await RawClient.connect(t.port);
  await stalledPayload.send(concat(backupHeader("slow", 10), utf8("abc")));
  const started = performance.now();
  assert.ok(await idle.isClosedByServer());
  assert.ok(await stalled.isClosedByServer());
  assert.ok(await stalledPayload.isClosedByServer());
  assert.ok(performance.now() - started < 3000);
  assert.deepEqual(storedNames(t.root), []);
  // The server logs a close just after closing: the client may see the close first.
  const reasons = () => t.logs.map((line) => JSON.parse(line).reason).filter(Boolean).sort();
  await eventually(() => Promise.resolve(reasons().length >= 3), "three close lines");
  assert.deepEqual(reasons(), ["frame timeout", "idle timeout", "payload stalled"]);
});

Deno.test("with close-after-response each connection ends after one answer", async () => {
  await using t = await startTestServer({ closeAfterResponse: true });
  using client = await RawClient.connect(t.port);
  await client.send(concat(encodeRequestHeader({ userId: 1, op: Op.List })));
  assert.equal((await client.readResponse()).header.status, Status.NoFiles);
  assert.ok(await client.isClosedByServer());
});

Deno.test("shutdown lets an upload in flight finish, closes idle connections", async () => {
  const t = await startTestServer();
  try {
    using idle = await RawClient.connect(t.port);
    using busy = await RawClient.connect(t.port);
    const late = new Uint8Array(200_000).fill(9);
    await busy.send(concat(backupHeader("late", late.length), late.subarray(0, 1000)));
    await eventually(() => Promise.resolve(t.server.stats().uploadsInFlight === 1), "upload start");
    const closing = t.server.close();
    assert.ok(await idle.isClosedByServer());
    await busy.send(late.subarray(1000));
    const response = await busy.readResponse();
    assert.equal(response.header.status, Status.Done);
    assert.ok(await busy.isClosedByServer());
    await closing;
    assert.deepEqual(storedBytes(t.root, 1, "late"), late);
  } finally {
    await t[Symbol.asyncDispose]();
  }
});

Deno.test("data files and packs no version points to (uploads a crash cut off) are removed at start-up", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/data/ab`, { recursive: true });
    await Deno.writeTextFile(`${root}/data/ab/ab${"0".repeat(30)}`, "half a file");
    await Deno.mkdir(`${root}/repo/packs/cd`, { recursive: true });
    await Deno.writeTextFile(`${root}/repo/packs/cd/cd${"0".repeat(30)}`, "a pack never indexed");
    await Deno.writeTextFile(`${root}/repo/packs/cd/.tmp-${"1".repeat(32)}`, "half a pack");
    {
      await using t = await startTestServer({ root });
      assert.deepEqual(await storedFiles(root), []);
      assert.deepEqual([...Deno.readDirSync(`${root}/repo/packs/cd`)], [], "the temp file too");
      assert.ok(t.logs.some((line) => line.includes("removed data files of uploads cut off")));
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      const big = new Uint8Array(100_000).fill(1);
      await client.backup("big", ReadableStream.from([big]), big.length);
    }
    await using _again = await startTestServer({ root });
    assert.equal((await storedFiles(root)).length, 1, "a pack in use stays");
    assert.equal(storedBytes(root, 1, "big")?.length, 100_000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
