import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { ServerError } from "../client/client_errors.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { makeKey, startV2Server, TLS } from "./_v2.ts";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);

Deno.test("--allow-v1 serves version 1 on a plain second port, never for an account's user id", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    access: { allowV1: true },
    plainListen: { hostname: "127.0.0.1", port: 0 },
  });
  const plainPort = t.server.plainAddr!.port;
  using legacy = await BackupClient.connect({ userId: 5, port: plainPort });
  await legacy.backup("old.txt", bytesSource(bytes(3, 1)), 3);
  assert.deepEqual(await legacy.list(), ["old.txt"]);
  await assert.rejects(async () => {
    using intruder = await BackupClient.connect({ userId: 77, port: plainPort });
    await intruder.list();
  }, ServerError);
  using client = await t.connect(77, alice);
  assert.deepEqual(await client.list(), [], "user 5's files are not user 77's");
  const refusal = t.logs.map((line) => JSON.parse(line)).find((line) =>
    /an account/.test(line.error)
  );
  assert.match(refusal.error, /version 1 request for user 77, an account/);
});

Deno.test("without a users file, version 2 works for any key and user id, and v1 as ever", async () => {
  await using t = await startTestServer({ tls: TLS, access: { appendOnly: false } });
  const anyKey = await makeKey();
  using client = await BackupClientV2.connect({
    userId: 9,
    key: anyKey,
    hostname: "127.0.0.1",
    port: t.port,
    tls: true,
    caCerts: [Deno.readTextFileSync(TLS.certFile)],
  });
  await client.backup("a", bytesSource(bytes(4, 2)), 4);
  assert.deepEqual((await client.versions("a")).map((v) => v.size), [4]);
  using v1 = await BackupClient.connect({
    userId: 9,
    hostname: "127.0.0.1",
    port: t.port,
    tls: true,
    caCerts: [Deno.readTextFileSync(TLS.certFile)],
  });
  assert.deepEqual(await v1.list(), ["a"]);
});

Deno.test("--append-only on a server without accounts refuses v1 deletes; a replace keeps the old file", async () => {
  await using t = await startTestServer({ access: { appendOnly: true } });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await client.backup("a", bytesSource(bytes(4, 1)), 4);
  await assert.rejects(client.delete("a"), ServerError);
  await client.backup("a", bytesSource(bytes(4, 2)), 4);
  assert.deepEqual(await client.list(), ["a"]);
  const versions = await Array.fromAsync((await t.server.storage.versions(3, "a")).pages);
  assert.equal(versions.flat().length, 2, "the first file is kept as a past version");
});
