/**
 * The server's guard against files stored one by one for an encrypted account
 * (`server/plain_uploads.ts`), and a store session's mode rule (`storage/sealed_blobs.ts`): a
 * "plain" answer is asked again after `PLAIN_RECHECK_MS` (found by
 * a review: a connection kept it for life, so a long per-file backup overlapping an `init` went
 * on storing files in clear), an "encrypted" one is kept.
 */
import assert from "node:assert/strict";
import { Status } from "../protocol/constants.ts";
import { RawClient, startTestServer } from "./_helpers.ts";
import { backup, list } from "./_protocol_conformance.ts";
import { fakeSlot } from "./_key_slots.ts";
import { PLAIN_RECHECK_MS, PlainUploadGuard } from "../server/plain_uploads.ts";
import { ForbiddenError } from "../server/access.ts";
import { RepositoryModeError, type SnapshotRepository } from "../storage/snapshots.ts";
import { PLAIN_RECHECK_MS as SESSION_RECHECK_MS, RepositoryMode } from "../storage/sealed_blobs.ts";

Deno.test("a plain answer is asked again after a while; an encrypted one is kept", async () => {
  let slots: Uint8Array[] = [];
  let asked = 0;
  const repository = {
    listKeySlots: () => {
      asked++;
      return Promise.resolve(slots);
    },
  } as unknown as SnapshotRepository;
  let now = 0;
  const guard = new PlainUploadGuard(repository, () => now);
  await guard.check(7);
  assert.equal(asked, 1);
  slots = [new Uint8Array(17)]; // an init on another connection
  now = PLAIN_RECHECK_MS - 1;
  await guard.check(7); // still the answer of a moment ago
  assert.equal(asked, 1);
  now = PLAIN_RECHECK_MS;
  await assert.rejects(guard.check(7), ForbiddenError);
  assert.equal(asked, 2);
  slots = [];
  now = 10 * PLAIN_RECHECK_MS;
  await assert.rejects(guard.check(7), ForbiddenError);
  assert.equal(asked, 2, "encrypted stays encrypted: the last slot is never removed");
});

Deno.test("a store session's plain answer is asked again after a while too; its encrypted one is kept", async () => {
  let encrypted = false;
  let asked = 0;
  let now = 0;
  const mode = new RepositoryMode(7, () => (asked++, encrypted), () => now);
  await mode.check("raw");
  encrypted = true; // an init on another connection
  await mode.check("zstd");
  assert.equal(asked, 1);
  now = SESSION_RECHECK_MS;
  await assert.rejects(mode.check("raw"), RepositoryModeError);
  await mode.check("sealed");
  encrypted = false;
  now = 10 * SESSION_RECHECK_MS;
  await mode.check("sealed");
  assert.equal(asked, 2);
});

Deno.test("version 1 over a socket: an upload for an account with a key slot is 1003, nothing stored; another account's goes through", async () => {
  await using t = await startTestServer();
  await t.server.storage.snapshots!.addKeySlot(5, fakeSlot(1));
  using client = await RawClient.connect(t.port);
  await client.send(backup(5, "secret.txt", new TextEncoder().encode("in clear")));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  await client.send(backup(6, "plain.txt", new TextEncoder().encode("plain")));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  await client.send(list(5));
  assert.equal((await client.readResponse()).header.status, Status.NoFiles);
});
