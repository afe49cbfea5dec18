/**
 * Key slots over the wire (ops 30 ListKeys, 31 AddKey, 32 RemoveKey; docs/keys_plan.md §4): the
 * client's session against a real server over TLS with accounts, on the embedded store. Every
 * refusal (a conflict, the last slot, an unknown slot, a 17th slot, an append-only removal, a
 * first slot beside plain snapshots) reaches the client with the store's reason, and the session
 * goes on. Then the sealed encoding (2) on the wire: refused to a plain repository, stored and
 * served as sealed once the repository has a slot, where a raw blob is refused.
 */
import assert from "node:assert/strict";
import { ServerRefusedError } from "../client/client_errors.ts";
import { KeySlotNotFoundError } from "../client/errors_v3.ts";
import type { ClientKey } from "../client/keys.ts";
import { SessionV3 } from "../client/session_v3.ts";
import {
  BlobEncoding,
  BlobKind,
  MAX_KEY_SLOTS,
  OpV3,
  type PutBlobRequest,
  RefusalCode,
  type ResponseV3,
  StatusV3,
} from "../protocol/v3/mod.ts";
import { fakeSlot, fakeSlotId, slotIds } from "./_key_slots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";
import { CA, makeKey, startV2Server, type V2TestServer } from "./_v2.ts";
import { putData, RawV3, sha256 } from "./_v3.ts";
import { toHex } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 77;
const APPEND_ONLY = 78;
const WITH_SNAPSHOT = 79;

function connect(t: V2TestServer, userId: number, key: ClientKey): Promise<SessionV3> {
  // A generous timeout as a backstop: a client that waits where it should not fails, never hangs.
  return SessionV3.connect({
    hostname: "127.0.0.1",
    port: t.port,
    tls: true,
    caCerts: [CA],
    userId,
    key,
    timeoutMs: 20_000,
  });
}

/** Rejects unless `promise` is refused with `code` and a reason matching `reason`. */
async function refused(promise: Promise<unknown>, code: number, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ServerRefusedError, `${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.reason, reason);
    return true;
  });
}

const hexIds = (...ids: number[]) => ids.map((id) => toHex(fakeSlotId(id)));

Deno.test("key slots over the wire: list, add, the same again, a conflict, never the last, an unknown one; the session goes on", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: USER, keys: [alice] }]);
  await using session = await connect(t, USER, alice);

  assert.deepEqual(await session.listKeySlots(), [], "a plain repository has no slots");
  await session.addKeySlot(fakeSlot(1));
  assert.deepEqual(await session.listKeySlots(), [fakeSlot(1)]);
  await session.addKeySlot(fakeSlot(1)); // the same slot again: done, unchanged
  assert.deepEqual(await session.listKeySlots(), [fakeSlot(1)]);

  await refused(session.addKeySlot(fakeSlot(1, 200, 0x11)), RefusalCode.Forbidden, /other bytes/);
  await refused(session.removeKeySlot(fakeSlotId(1)), RefusalCode.Forbidden, /the only one/);
  assert.deepEqual(await session.listKeySlots(), [fakeSlot(1)], "the refusals changed nothing");

  // Slots of every size the protocol allows, up to 4 KiB.
  await session.addKeySlot(fakeSlot(2, 4096));
  await session.addKeySlot(fakeSlot(3, 17));
  assert.deepEqual(slotIds(await session.listKeySlots()), hexIds(1, 2, 3));
  await session.removeKeySlot(fakeSlotId(1));
  const slots = await session.listKeySlots();
  assert.deepEqual(slots, [fakeSlot(2, 4096), fakeSlot(3, 17)]);

  await assert.rejects(session.removeKeySlot(fakeSlotId(9)), (error: unknown) => {
    assert.ok(error instanceof KeySlotNotFoundError, `${error}`);
    assert.equal(error.slotId, toHex(fakeSlotId(9)));
    return true;
  });
  // What the client refuses to send never reaches the server.
  await assert.rejects(session.addKeySlot(new Uint8Array(16)), RangeError);
  await assert.rejects(session.removeKeySlot(new Uint8Array(32)), RangeError);

  // Past 16 slots: too large (code 4), and the connection stays.
  for (let id = 4; id <= MAX_KEY_SLOTS + 1; id++) await session.addKeySlot(fakeSlot(id));
  assert.equal((await session.listKeySlots()).length, MAX_KEY_SLOTS);
  await refused(session.addKeySlot(fakeSlot(30)), RefusalCode.TooLarge, /16|slots/);
  assert.equal((await session.listKeySlots()).length, MAX_KEY_SLOTS);

  // A second connection sees the same slots; the log names each op and the slot it is about.
  await using other = await connect(t, USER, alice);
  assert.deepEqual(slotIds(await other.listKeySlots()), slotIds(await session.listKeySlots()));
  const lines = t.logs.map((line) => JSON.parse(line));
  assert.ok(lines.some((l) => l.op === "list-keys" && l.status === StatusV3.KeySlots));
  assert.ok(lines.some((l) => l.op === "add-key" && l.name === toHex(fakeSlotId(2))));
  assert.ok(lines.some((l) => l.op === "remove-key" && l.name === toHex(fakeSlotId(9))));
});

Deno.test("an append-only account adds a key slot but may not remove one (1003 code 3, the session goes on)", async () => {
  const bob = await makeKey();
  await using t = await startV2Server([{ id: APPEND_ONLY, keys: [bob], appendOnly: true }]);
  await using session = await connect(t, APPEND_ONLY, bob);
  assert.equal(session.appendOnly, true);
  await session.addKeySlot(fakeSlot(1));
  await session.addKeySlot(fakeSlot(2));
  await refused(session.removeKeySlot(fakeSlotId(1)), RefusalCode.Forbidden, /append-only/);
  assert.deepEqual(slotIds(await session.listKeySlots()), hexIds(1, 2));
});

Deno.test("a first key slot beside plain snapshots is refused with the store's reason; the session goes on", async () => {
  const carol = await makeKey();
  await using t = await startV2Server([{ id: WITH_SNAPSHOT, keys: [carol] }]);
  // A plain snapshot, committed through the store as any plain client's would be.
  const repository = t.server.storage.snapshots!;
  const chunk = dataBlob(noise(1, 1000));
  const tree = treeBlob([chunk.id]);
  const upload = repository.openSession(WITH_SNAPSHOT);
  await upload.put(chunk);
  await upload.put(tree);
  assert.deepEqual(await upload.commit(snapshotOf(tree)), { missing: [] });
  await upload.close();

  await using session = await connect(t, WITH_SNAPSHOT, carol);
  await refused(
    session.addKeySlot(fakeSlot(1)),
    RefusalCode.Forbidden,
    /holds plain snapshots.*forget them and prune first/,
  );
  assert.deepEqual(await session.listKeySlots(), []);
});

/** A sealed PutBlob: bytes the server cannot check, raw length = stored length. */
function putSealed(tag: number, bytes: Uint8Array): PutBlobRequest {
  return {
    op: OpV3.PutBlob,
    userId: USER,
    tag,
    id: sha256(bytes),
    kind: BlobKind.Data,
    encoding: BlobEncoding.Sealed,
    rawLength: bytes.length,
    refs: [],
    bytes,
  };
}

function refusal(response: ResponseV3, code: number, reason: RegExp) {
  assert.equal(response.status, StatusV3.Refused, JSON.stringify(response));
  const { code: got, message } = response as ResponseV3 & { status: 1003 };
  assert.equal(got, code, message);
  assert.match(message, reason);
}

Deno.test("the sealed encoding on the wire: refused to a plain repository; once it has a slot, stored and served sealed, and a raw blob refused", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: USER, keys: [alice] }]);
  const signedIn = async () => {
    const raw = await RawV3.connect(t.port, true);
    const welcome = await raw.signIn(USER, alice);
    assert.equal(welcome?.kind === "handshake" && welcome.response.status, StatusV3.Authenticated);
    return raw;
  };
  const sealed = noise(2, 300);
  {
    using plain = await signedIn();
    await plain.request(putSealed(1, sealed));
    refusal(await plain.answer(), RefusalCode.Forbidden, /not encrypted/);
    await plain.request({ op: OpV3.ListKeys, userId: USER, tag: 2 });
    assert.deepEqual(await plain.answer(), { status: StatusV3.KeySlots, tag: 2, slots: [] });
  }
  // A store session asks the repository's mode once (storage/sealed_blobs.ts): the slot is
  // added before this connection's first blob, as a client's `init` does.
  using raw = await signedIn();
  await raw.request({ op: OpV3.AddKey, userId: USER, tag: 1, first: false, slot: fakeSlot(1) });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 1 });
  // A sealed chunk and a sealed tree naming it (its refs in clear), committed.
  const sealedTree = noise(3, 200);
  const tree: PutBlobRequest = { ...putSealed(3, sealedTree), kind: BlobKind.Tree };
  tree.refs = [sha256(sealed)];
  const record = new TextEncoder().encode('{"sealed":true}');
  await raw.request(putSealed(2, sealed), tree, {
    op: OpV3.CommitSnapshot,
    userId: USER,
    tag: 4,
    id: sha256(record),
    tree: tree.id,
    record,
  });
  for (const tag of [2, 3]) assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 4 });
  await raw.request(
    { op: OpV3.GetBlob, userId: USER, tag: 5, id: sha256(sealed) },
    putData(USER, 6, new TextEncoder().encode("plain")),
  );
  assert.deepEqual(await raw.answer(), {
    status: StatusV3.Blob,
    tag: 5,
    kind: BlobKind.Data,
    encoding: BlobEncoding.Sealed,
    rawLength: sealed.length,
    bytes: sealed,
  });
  refusal(await raw.answer(), RefusalCode.Forbidden, /is encrypted/);
  // The connection stayed through the refusal.
  await raw.request({ op: OpV3.ListKeys, userId: USER, tag: 7 });
  assert.deepEqual(await raw.answer(), { status: StatusV3.KeySlots, tag: 7, slots: [fakeSlot(1)] });
});
