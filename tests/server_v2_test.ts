import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BackupClient } from "../client/backup_client.ts";
import { ServerRefusedError } from "../client/client_errors.ts";
import { ServerError } from "../client/client_errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { storedBytes } from "../harness/stored.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { CA, makeKey, RawSession, startV2Server } from "./_v2.ts";
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { sameBytes } from "./_helpers.ts";
import { chunksOf, flipByte, randomBytes } from "./_packs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const logLines = (logs: string[]) => logs.map((line) => JSON.parse(line));

Deno.test("a listed key works over TLS: backup, list with metadata, retrieve checked", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  using client = await t.connect(77, alice);
  const content = bytes(200_000, 7);
  await client.backup("photos/a.jpg", bytesSource(content), content.length, {
    mtimeMs: Date.UTC(2020, 0, 2),
    mode: 0o640,
  });
  await client.backup("notes.txt", bytesSource(bytes(10, 1)), 10);
  const entries = await Array.fromAsync(client.entries());
  assert.deepEqual(entries.map((entry) => entry.name), ["notes.txt", "photos/a.jpg"]);
  const photo = entries[1].info;
  assert.equal(photo.size, 200_000);
  assert.equal(photo.mtimeMs, Date.UTC(2020, 0, 2));
  assert.equal(photo.mode, 0o640);
  assert.ok(sameBytes(photo.sha256, new Uint8Array(createHash("sha256").update(content).digest())));
  const chunks: Uint8Array[] = [];
  const info = await client.retrieve("photos/a.jpg", {
    write: (chunk) => (chunks.push(chunk.slice()), Promise.resolve(chunk.length)),
  });
  assert.equal(info.versionId, photo.versionId);
  assert.equal(chunks.reduce((sum, chunk) => sum + chunk.length, 0), 200_000);
  assert.deepEqual(await client.list("photos/"), ["photos/a.jpg"]);
});

Deno.test("an unknown key, another user's id and a v1 request are refused, closed and logged", async () => {
  const alice = await makeKey();
  const mallory = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }, {
    id: 78,
    keys: [await makeKey()],
  }], {
    throttle: { baseDelayMs: 1 },
  });
  await assert.rejects(async () => {
    using client = await t.connect(77, mallory);
    await client.list();
  }, ServerRefusedError);
  await assert.rejects(async () => {
    using client = await t.connect(78, alice); // alice's key is not user 78's
    await client.list();
  }, (error: ServerRefusedError) => error.code === RefusalCode.AuthFailed);
  // A v1 client, even over TLS, is refused on a server with accounts.
  await assert.rejects(async () => {
    using v1 = await BackupClient.connect({
      userId: 5,
      hostname: "127.0.0.1",
      port: t.port,
      tls: true,
      caCerts: [CA],
    });
    await v1.list();
  }, ServerError);
  const lines = logLines(t.logs);
  const failed = lines.filter((line) => line.msg === "handshake failed");
  assert.equal(failed.length, 2);
  assert.match(failed[0].error, /key not listed for user 77/);
  assert.match(failed[1].error, /key not listed for user 78/);
  assert.ok(failed.every((line) => line.peer.startsWith("127.0.0.1:")));
  assert.ok(lines.some((line) => /version 1 request on a server with accounts/.test(line.error)));
});

Deno.test("a connection authenticated as one user cannot act for another", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }, {
    id: 78,
    keys: [await makeKey()],
  }]);
  using session = await RawSession.connect(t.port);
  await session.authenticate(77, alice);
  assert.equal((await session.read())?.status, StatusV2.Authenticated);
  await session.send(encodeRequestV2({ op: OpV2.List, userId: 78, prefix: "", atMs: 0 }));
  const answer = await session.read();
  assert.equal(answer?.status, StatusV2.Refused);
  assert.equal((answer as { code: number }).code, RefusalCode.Forbidden);
  assert.equal(await session.read(), null, "and the connection is closed");
  const lines = logLines(t.logs);
  assert.ok(
    lines.some((line) =>
      /request for user 78 on a connection authenticated as user 77/.test(line.error)
    ),
  );
});

Deno.test("a replayed handshake and a truncated one are refused", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    throttle: { baseDelayMs: 1 },
    limits: { frameTimeoutMs: 300 },
  });
  let captured: Uint8Array;
  {
    using first = await RawSession.connect(t.port);
    captured = await first.authenticate(77, alice);
    assert.equal((await first.read())?.status, StatusV2.Authenticated);
  }
  // An eavesdropper replays the Auth frame on a new connection: the nonce there is another.
  using replay = await RawSession.connect(t.port);
  await replay.send(encodeRequestV2({ op: OpV2.Hello, userId: 77 }));
  assert.equal((await replay.read())?.status, StatusV2.Challenge);
  await replay.send(captured);
  const answer = await replay.read();
  assert.equal((answer as { code: number }).code, RefusalCode.AuthFailed);
  assert.equal(await replay.read(), null);
  // Half an Auth frame, then nothing: closed by the handshake's deadline, nothing served.
  using truncated = await RawSession.connect(t.port);
  await truncated.send(encodeRequestV2({ op: OpV2.Hello, userId: 77 }));
  assert.equal((await truncated.read())?.status, StatusV2.Challenge);
  await truncated.send(captured.subarray(0, 40));
  assert.equal(await truncated.read(), null, "closed without an answer");
  const lines = logLines(t.logs);
  assert.ok(
    lines.some((line) => line.msg === "handshake failed" && /bad signature/.test(line.error)),
  );
  assert.ok(
    lines.some((line) => line.msg === "connection closed" && line.reason === "handshake timeout"),
  );
});

Deno.test("append-only refuses delete; a replace keeps the old version; new files are accepted", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice], appendOnly: true }]);
  using client = await t.connect(77, alice);
  await client.backup("a", bytesSource(bytes(5, 1)), 5);
  assert.equal(client.appendOnly, true);
  await assert.rejects(
    client.delete("a"),
    (error: ServerRefusedError) => error.code === RefusalCode.Forbidden,
  );
  await client.backup("a", bytesSource(bytes(5, 2)), 5);
  await client.backup("b", bytesSource(bytes(5, 3)), 5);
  assert.deepEqual(storedBytes(t.root, 77, "a"), bytes(5, 2));
  assert.equal((await client.versions("a")).length, 2, "the first version stays, as a past one");
  assert.deepEqual(await client.list(), ["a", "b"]);
});

Deno.test("a file changed on disk is caught by the server's read, the client's restore and verify", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  using client = await t.connect(77, alice);
  await client.backup("big", bytesSource(randomBytes(300_000)), 300_000);
  assert.deepEqual((await verifyRoot({ root: t.root })).problems, []);
  const [chunk] = chunksOf(t.root, 77, "big"); // random bytes: stored as they are
  await flipByte(chunk.path, chunk.offset + 1000);
  const dir = await Deno.makeTempDir();
  try {
    // The server checks each chunk against its id before sending it: it refuses, names no bytes.
    await assert.rejects(
      client.retrieveToFile("big", `${dir}/big`),
      (error: unknown) => error instanceof ServerRefusedError && /damaged/.test(error.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const report = await verifyRoot({ root: t.root });
  assert.equal(report.problems.length, 1);
  assert.equal(report.problems[0].kind, "bad-chunk");
  assert.equal(report.problems[0].name, "big");
});
