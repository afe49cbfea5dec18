/**
 * A reload reaches requests already under way, not only the next request: an upload begun with a
 * key the operator then removed does not commit, a download of it stops, and an account removed
 * from the users file does not open its files to version 1 clients.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { ServerError, ServerRefusedError } from "../client/client_errors.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { OpV2, RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { storedBytes } from "../harness/stored.ts";
import { makeKey, RawSession, startV2Server } from "./_v2.ts";
import { eventually } from "./_helpers.ts";
import type { ClientKey } from "../client/keys.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const logLines = (logs: string[]) => logs.map((line) => JSON.parse(line));
/** Short enough that a server which waits for the rest of a payload fails the test quickly. */
const limits = { frameTimeoutMs: 5000 };

/** A session signed in with `key`, the 221 read. */
async function signedIn(port: number, userId: number, key: ClientKey): Promise<RawSession> {
  const session = await RawSession.connect(port);
  await session.authenticate(userId, key);
  assert.equal((await session.read())?.status, StatusV2.Authenticated);
  return session;
}

Deno.test("an upload under way when its key is removed stops at its next chunk: the owner's file stays", async () => {
  const alice = await makeKey();
  const stolen = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice, stolen] }], { limits });
  {
    using owner = await t.connect(77, alice);
    await owner.backup("doc", bytesSource(bytes(10, 1)), 10);
  }
  using attacker = await signedIn(t.port, 77, stolen);
  const size = 256 * 1024;
  await attacker.send(encodeRequestV2({
    op: OpV2.Backup,
    userId: 77,
    name: "doc",
    size,
    mtimeMs: 0,
    mode: null,
  }));
  await attacker.send(bytes(64 * 1024, 2));
  // The upload has begun in storage: the request was authorized before the reload.
  await eventually(() => Promise.resolve(t.server.stats().uploadsInFlight === 1), "the upload");

  await t.writeAccounts([{ id: 77, keys: [alice] }]);
  assert.deepEqual((await t.server.reload()).errors, []);
  await attacker.send(bytes(64 * 1024, 2)); // more of the payload, still not all of it

  const answer = await attacker.read();
  assert.equal(answer?.status, StatusV2.Refused, "refused mid-upload, not left to run");
  assert.equal((answer as { code: number }).code, RefusalCode.AuthFailed);
  assert.match((answer as { message: string }).message, /key .* was removed from user 77/);
  assert.equal(await attacker.read(), null, "the connection is closed");
  await eventually(() => Promise.resolve(t.server.stats().uploadsInFlight === 0), "the drop");
  assert.deepEqual(storedBytes(t.root, 77, "doc"), bytes(10, 1), "the owner's file stays");
  const warned = logLines(t.logs).filter((line) => line.level === "warn");
  assert.ok(warned.some((line) => line.op === "backup" && /was removed/.test(line.error)));
});

Deno.test("a download under way when its key is removed stops: the rest of the file is not sent", async () => {
  const alice = await makeKey();
  const stolen = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice, stolen] }], { limits });
  // Larger than what the sockets and the server's two buffers hold between the two ends.
  const size = 24 * 1024 * 1024; // ~4 MiB of it was seen to arrive in all
  {
    using owner = await t.connect(77, alice);
    await owner.backup("big", bytesSource(bytes(size, 5)), size);
  }
  using attacker = await signedIn(t.port, 77, stolen);
  await attacker.send(
    encodeRequestV2({ op: OpV2.Retrieve, userId: 77, name: "big", versionId: 0 }),
  );
  const scratch = new Uint8Array(64 * 1024);
  let received = 0;
  const readSome = async () => {
    try {
      const count = await attacker.conn.read(scratch);
      if (count !== null) received += count;
      return count;
    } catch {
      return null; // reset: the server closed
    }
  };
  // The answer has begun (then the attacker reads no more for a while: the server's writes wait).
  while (received < 256 * 1024) assert.notEqual(await readSome(), null, "the download began");

  await t.writeAccounts([{ id: 77, keys: [alice] }]);
  assert.deepEqual((await t.server.reload()).errors, []);
  const atReload = received;
  while (await readSome() !== null) {
    // drain what was already on its way, until the server closes
  }
  assert.ok(
    received < size,
    `the download stopped: ${received} of ${size} bytes, ${received - atReload} after the reload`,
  );
  const warned = logLines(t.logs).filter((line) => line.level === "warn");
  assert.ok(warned.some((line) => line.op === "retrieve" && /was removed/.test(line.error)));
});

Deno.test("an account removed by a reload stays shut to version 1, and the log says how to retire it", async () => {
  const alice = await makeKey();
  const bob = await makeKey();
  await using t = await startV2Server([{ id: 7, keys: [alice] }, { id: 8, keys: [bob] }], {
    access: { allowV1: true },
    plainListen: { hostname: "127.0.0.1", port: 0 },
  });
  {
    using owner = await t.connect(7, alice);
    await owner.backup("big", bytesSource(bytes(100, 1)), 100);
  }
  await t.writeAccounts([{ id: 8, keys: [bob] }]);
  assert.deepEqual((await t.server.reload()).errors, []);

  const plainPort = t.server.plainAddr!.port;
  for (const attempt of ["list", "delete"] as const) {
    await assert.rejects(async () => {
      using intruder = await BackupClient.connect({ userId: 7, port: plainPort });
      if (attempt === "list") await intruder.list();
      else await intruder.delete("big");
    }, ServerError);
  }
  assert.deepEqual(
    storedBytes(t.root, 7, "big"),
    bytes(100, 1),
    "the removed account's file stays",
  );
  const lines = logLines(t.logs);
  assert.ok(lines.some((line) => /user 7, a removed account/.test(line.error ?? "")));
  const warning = lines.find((line) => line.level === "warn" && /accounts removed/.test(line.msg));
  assert.ok(warning, "the reload warned about the removed account");
  assert.deepEqual(warning.userIds, [7]);
  assert.match(warning.msg, /"keys": \[\]/);
  // Another id that never was an account is still served, as --allow-v1 says.
  using legacy = await BackupClient.connect({ userId: 5, port: plainPort });
  await legacy.backup("old.txt", bytesSource(bytes(3, 1)), 3);
});

Deno.test('an account kept with "keys": [] refuses every key and version 1, and its files stay', async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 7, keys: [alice] }], {
    access: { allowV1: true },
    plainListen: { hostname: "127.0.0.1", port: 0 },
  });
  using open = await t.connect(7, alice);
  await open.backup("doc", bytesSource(bytes(10, 1)), 10);
  await t.writeAccounts([{ id: 7, keys: [] }]);
  assert.deepEqual((await t.server.reload()).errors, []);
  assert.equal(t.server.accountCount, 1, "the entry with no keys is an account");
  assert.ok(
    !logLines(t.logs).some((line) => /accounts removed/.test(line.msg ?? "")),
    "retired, not removed: no warning",
  );

  await assert.rejects(open.list(), "the open session ends");
  for (const key of [alice, await makeKey()]) { // the old key, and any other
    await assert.rejects(async () => {
      using client = await t.connect(7, key);
      await client.list();
    }, (error: ServerRefusedError) => error.code === RefusalCode.AuthFailed);
  }
  await assert.rejects(async () => {
    using intruder = await BackupClient.connect({ userId: 7, port: t.server.plainAddr!.port });
    await intruder.list();
  }, ServerError);
  assert.deepEqual(storedBytes(t.root, 7, "doc"), bytes(10, 1));
});
