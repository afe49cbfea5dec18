import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bytesSource } from "../io/byte_stream.ts";
import { ServerRefusedError, TlsError } from "../client/client_errors.ts";
import { OpV2, RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { storedBytes } from "../harness/stored.ts";
import { makeKey, OTHER_TLS, RawSession, startV2Server, TLS } from "./_v2.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { concat } from "./_helpers.ts";
import { versionsAndTimes } from "./_v2_history.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const sha256 = (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest());

Deno.test("an upload whose digest does not match is refused and the old version survives", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  using client = await t.connect(77, alice);
  await client.backup("doc", bytesSource(bytes(100_000, 1)), 100_000);
  using session = await RawSession.connect(t.port);
  await session.authenticate(77, alice);
  assert.equal((await session.read())?.status, StatusV2.Authenticated);
  for (const size of [10, 100_000]) { // kept in the index, and in a data file
    const payload = bytes(size, 2);
    const wrong = sha256(bytes(size, 3));
    const head = encodeRequestV2({
      op: OpV2.Backup,
      userId: 77,
      name: "doc",
      size,
      mtimeMs: 0,
      mode: null,
    });
    await session.send(concat(head, payload, wrong));
    const answer = await session.read();
    assert.equal(answer?.status, StatusV2.Refused);
    assert.equal((answer as { code: number }).code, RefusalCode.DigestMismatch);
  }
  // The connection stays in step: a good upload on it goes through.
  const good = bytes(20, 9);
  const head = encodeRequestV2({
    op: OpV2.Backup,
    userId: 77,
    name: "other",
    size: 20,
    mtimeMs: 0,
    mode: null,
  });
  await session.send(concat(head, good, sha256(good)));
  assert.equal((await session.read())?.status, StatusV2.Done);
  assert.deepEqual(storedBytes(t.root, 77, "doc"), bytes(100_000, 1), "the old version stays");
  assert.deepEqual(storedBytes(t.root, 77, "other"), good);
});

Deno.test(
  "versions of a name, a past version retrieved, and a prefix listed as it was at a time",
  () => versionsAndTimes(),
);

Deno.test("a key revoked in the users file is refused after a reload; a broken file keeps the old accounts", async () => {
  const alice = await makeKey();
  const laptop = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice, laptop] }], {
    throttle: { baseDelayMs: 1 },
  });
  (await t.connect(77, laptop)).close();
  await Deno.writeTextFile(t.usersFile, "{ not json");
  const broken = await t.server.reload();
  assert.equal(broken.errors.length, 1, JSON.stringify(broken));
  assert.match(broken.errors[0], /users file: not JSON/);
  using still = await t.connect(77, laptop);
  await still.list(); // the old accounts are still in force
  await t.writeAccounts([{ id: 77, keys: [alice] }]);
  assert.deepEqual(await t.server.reload(), { accounts: 1, certificate: true, errors: [] });
  await assert.rejects(async () => {
    using client = await t.connect(77, laptop);
    await client.list();
  }, (error: ServerRefusedError) => error.code === RefusalCode.AuthFailed);
  using good = await t.connect(77, alice);
  await good.list();
});

Deno.test("with the frame timeout off (0), a handshake is not cut short", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    limits: { frameTimeoutMs: 0 },
  });
  using client = await t.connect(77, alice);
  assert.deepEqual(await client.list(), []);
});

Deno.test("a renewed certificate is taken on reload; connections made after it see the new one", async () => {
  const alice = await makeKey();
  const dir = await Deno.makeTempDir({ prefix: "backup-tls-renew-" });
  try {
    const tls = { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem` };
    await Deno.copyFile(TLS.certFile, tls.certFile);
    await Deno.copyFile(TLS.keyFile, tls.keyFile);
    await using t = await startV2Server([{ id: 77, keys: [alice] }], { tls });
    const connect = (ca: string) =>
      BackupClientV2.connect({
        userId: 77,
        key: alice,
        hostname: "127.0.0.1",
        port: t.port,
        tls: true,
        caCerts: [Deno.readTextFileSync(ca)],
      });
    using before = await connect(TLS.certFile);
    await before.list();
    await Deno.copyFile(OTHER_TLS.certFile, tls.certFile);
    await Deno.copyFile(OTHER_TLS.keyFile, tls.keyFile);
    assert.equal((await t.server.reload()).certificate, true);
    await assert.rejects(connect(TLS.certFile), TlsError);
    using after = await connect(OTHER_TLS.certFile);
    await after.list();
    await before.list(); // a connection made before keeps working
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
