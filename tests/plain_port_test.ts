/**
 * The plain port beside TLS (`--plain-listen`) is for version 1 clients: a version 2 session (a key,
 * an account's files) is refused there with a message that points to TLS, unless the operator
 * allows it in clear (`--plain-allow-accounts`).
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { ServerRefusedError } from "../client/client_errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { makeKey, startV2Server } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const plainOptions = {
  access: { allowV1: true },
  plainListen: { hostname: "127.0.0.1", port: 0 },
};

Deno.test("beside TLS, the plain port refuses a v2 Hello, saying to use TLS; v1 is still served", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], plainOptions);
  const plainPort = t.server.plainAddr!.port;
  const refusal = await BackupClientV2.connect({
    userId: 77,
    key: alice,
    hostname: "127.0.0.1",
    port: plainPort,
  }).then((client) => {
    client.close();
    return undefined;
  }, (error) => error);
  assert.ok(refusal instanceof ServerRefusedError, `refused, got ${refusal}`);
  assert.equal(refusal.code, RefusalCode.Forbidden);
  assert.match(refusal.reason, /plain TCP/);
  assert.match(refusal.reason, new RegExp(`over TLS \\(--tls\\), on port ${t.port}`));
  const line = t.logs.map((text) => JSON.parse(text)).find((entry) =>
    /plain TCP/.test(entry.error)
  );
  assert.ok(line, "the refusal is in the log");
  using legacy = await BackupClient.connect({ userId: 5, port: plainPort });
  assert.deepEqual(await legacy.list(), []);
  using client = await t.connect(77, alice);
  assert.deepEqual(await client.list(), [], "the TLS port serves the account");
});

Deno.test("with plainAllowAccounts, the plain port serves v2 sessions in clear", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    ...plainOptions,
    plainAllowAccounts: true,
  });
  using client = await BackupClientV2.connect({
    userId: 77,
    key: alice,
    hostname: "127.0.0.1",
    port: t.server.plainAddr!.port,
  });
  assert.deepEqual(await client.list(), []);
});
