/**
 * A reload of the users file reaches the sessions already open: a removed key or account ends its
 * session at its next request, a new append-only setting applies to the next request.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bytesSource } from "../io/byte_stream.ts";
import { ServerRefusedError } from "../client/client_errors.ts";
import { OpV2, RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { storedBytes } from "../harness/stored.ts";
import { makeKey, RawSession, startV2Server } from "./_v2.ts";
import { concat } from "./_helpers.ts";
import type { ClientKey } from "../client/keys.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const sha256 = (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest());
const logLines = (logs: string[]) => logs.map((line) => JSON.parse(line));

/** A version 2 backup frame with its payload and digest. */
function backupFrame(userId: number, name: string, payload: Uint8Array): Uint8Array {
  const head = encodeRequestV2({
    op: OpV2.Backup,
    userId,
    name,
    size: payload.length,
    mtimeMs: 0,
    mode: null,
  });
  return concat(head, payload, sha256(payload));
}

/** A session signed in with `key`, the 221 read. */
async function signedIn(port: number, userId: number, key: ClientKey): Promise<RawSession> {
  const session = await RawSession.connect(port);
  await session.authenticate(userId, key);
  assert.equal((await session.read())?.status, StatusV2.Authenticated);
  return session;
}

Deno.test("a session whose key was removed is refused and closed at its next request after a reload", async () => {
  const alice = await makeKey();
  const stolen = await makeKey();
  const bob = await makeKey();
  await using t = await startV2Server([
    { id: 77, keys: [alice, stolen] },
    { id: 78, keys: [bob] },
  ]);
  using owner = await t.connect(77, alice);
  await owner.backup("doc", bytesSource(bytes(10, 1)), 10);
  // Opened before the operator acts, and kept busy (never idle long enough to be closed).
  using attacker = await signedIn(t.port, 77, stolen);
  using gone = await signedIn(t.port, 78, bob);
  await attacker.send(backupFrame(77, "doc", bytes(10, 2)));
  assert.equal((await attacker.read())?.status, StatusV2.Done, "before the reload it may");

  await t.writeAccounts([{ id: 77, keys: [alice], appendOnly: true }]);
  assert.deepEqual((await t.server.reload()).errors, []);

  await attacker.send(encodeRequestV2({ op: OpV2.Delete, userId: 77, name: "doc" }));
  const refused = await attacker.read();
  assert.equal(refused?.status, StatusV2.Refused);
  assert.equal((refused as { code: number }).code, RefusalCode.AuthFailed);
  assert.match((refused as { message: string }).message, /key .* was removed from user 77/);
  assert.equal(await attacker.read(), null, "the connection is closed");

  await gone.send(encodeRequestV2({ op: OpV2.List, userId: 78, prefix: "", atMs: 0 }));
  const goneAnswer = await gone.read();
  assert.equal((goneAnswer as { code: number }).code, RefusalCode.AuthFailed);
  assert.match((goneAnswer as { message: string }).message, /account of user 78 was removed/);
  assert.equal(await gone.read(), null, "the removed account's connection is closed");

  assert.deepEqual(storedBytes(t.root, 77, "doc"), bytes(10, 2), "the delete did not happen");
  const warned = logLines(t.logs).filter((line) => line.level === "warn");
  assert.ok(warned.some((line) => /key .* was removed from user 77/.test(line.error)));
  assert.ok(warned.some((line) => /account of user 78 was removed/.test(line.error)));
  // The owner's own key still works on its open connection, now append-only.
  assert.deepEqual(await owner.list(), ["doc"]);
});

Deno.test("append-only set by a reload applies to an open session at once: no delete, no history pushed out", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    retention: { keepDays: 30, keepVersions: 2 },
  });
  using client = await t.connect(77, alice);
  await client.backup("doc", bytesSource(bytes(10, 1)), 10);
  const [original] = await client.versions("doc");
  await t.writeAccounts([{ id: 77, keys: [alice], appendOnly: true }]);
  assert.deepEqual((await t.server.reload()).errors, []);

  await assert.rejects(
    client.delete("doc"),
    (error: ServerRefusedError) => error.code === RefusalCode.Forbidden,
  );
  for (let round = 2; round <= 6; round++) {
    await client.backup("doc", bytesSource(bytes(10, round)), 10);
  }
  await t.server.storage.settled();
  await t.server.storage.prune();
  const versions = await client.versions("doc");
  assert.equal(versions.length, 6, "every version is kept, --keep-versions 2 notwithstanding");
  assert.equal(versions[0].versionId, original.versionId, "the owner's original stays");
  const chunks: Uint8Array[] = [];
  await client.retrieve("doc", {
    write: (chunk) => (chunks.push(chunk.slice()), Promise.resolve(chunk.length)),
  }, { versionId: original.versionId });
  assert.deepEqual(concat(...chunks), bytes(10, 1));
});

Deno.test("a quota set by a reload applies to an open session's next upload", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  using client = await t.connect(77, alice);
  await client.backup("a", bytesSource(bytes(600, 1)), 600);
  await t.writeAccounts([{ id: 77, keys: [alice], quota: "1K" }]);
  assert.deepEqual((await t.server.reload()).errors, []);
  await assert.rejects(
    client.backup("b", bytesSource(bytes(600, 2)), 600),
    (error: ServerRefusedError) => error.code === RefusalCode.QuotaExceeded,
  );
});
