/**
 * Answers a version 3 server has gathered wait for the next request's work a moment at most: a
 * GetBlob whose read is slow (a cold disk, an S3 GET) does not hold the answers before it.
 */
import assert from "node:assert/strict";
import { OpV3, StatusV3 } from "../protocol/v3/mod.ts";
import { startServer } from "../server/server.ts";
import { Access } from "../server/access.ts";
import { createLogger } from "../server/log.ts";
import type { Storage } from "../storage/storage.ts";
import type { BlobReader, SnapshotRepository } from "../storage/snapshots.ts";
import { sameBytes, startTestServer } from "./_helpers.ts";
import { makeKey, usersFileText } from "./_v2.ts";
import { putData, putTree, RawV3, sha256 } from "./_v3.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 77;
const text = (value: string) => new TextEncoder().encode(value);

/** `storage` whose reads of the blob `slow` wait for `gate`. */
function withSlowRead(storage: Storage, slow: Uint8Array, gate: Promise<void>): Storage {
  const repository = storage.snapshots!;
  const held = async <T>(id: Uint8Array, read: () => Promise<T>) => {
    if (sameBytes(id, slow)) await gate;
    return read();
  };
  const snapshots = new Proxy(repository, {
    get: (target, key) => {
      if (key === "readBlob") {
        return (userId: number, id: Uint8Array) => held(id, () => target.readBlob(userId, id));
      }
      if (key === "blobReader") {
        return (userId: number): BlobReader => {
          const inner = target.blobReader!(userId);
          return { read: (id) => held(id, () => inner.read(id)), close: () => inner.close() };
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SnapshotRepository;
  return new Proxy(storage, {
    get: (target, key) => {
      if (key === "snapshots") return snapshots;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Storage;
}

Deno.test("an answer gathered goes out while the next GetBlob's read is held", async () => {
  const alice = await makeKey();
  const usersDir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  const usersFile = `${usersDir}/users.json`;
  await Deno.writeTextFile(usersFile, usersFileText([{ id: USER, keys: [alice] }]));
  await using t = await startTestServer({ access: { usersFile } });
  const quick = putData(USER, 1, text("a quick read"));
  const slow = putData(USER, 2, text("a slow read"));
  const tree = putTree(USER, 3, [quick.id, slow.id]);
  const record = text('{"label":"hold"}');
  {
    using raw = await RawV3.connect(t.port);
    assert.equal((await raw.signIn(USER, alice))?.kind, "handshake");
    await raw.request(quick, slow, tree, {
      op: OpV3.CommitSnapshot,
      userId: USER,
      tag: 4,
      id: sha256(record),
      tree: tree.id,
      record,
    });
    for (const tag of [1, 2, 3]) {
      assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
    }
    assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 4 });
  }
  const gate = Promise.withResolvers<void>();
  const server = await startServer({
    storage: withSlowRead(t.server.storage, slow.id, gate.promise),
    access: await Access.load({ usersFile }),
    hostname: "127.0.0.1",
    port: 0,
    logger: createLogger({ writeLine: () => {} }),
  });
  try {
    using raw = await RawV3.connect(server.addr.port);
    assert.equal((await raw.signIn(USER, alice))?.kind, "handshake");
    await raw.request(
      { op: OpV3.GetBlob, userId: USER, tag: 5, id: quick.id },
      { op: OpV3.GetBlob, userId: USER, tag: 6, id: slow.id },
    );
    // Before the slow read is let go: the quick answer must not wait for it (a bound, so that a
    // server that holds it fails this test instead of hanging the suite).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      raw.answer(),
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error("the quick answer waited for the slow read")),
          20_000,
        )
      ),
    ]).finally(() => clearTimeout(timer));
    assert.equal(first.tag, 5);
    assert.deepEqual((first as { bytes: Uint8Array }).bytes, text("a quick read"));
    gate.resolve();
    const second = await raw.answer();
    assert.equal(second.tag, 6);
    assert.deepEqual((second as { bytes: Uint8Array }).bytes, text("a slow read"));
  } finally {
    gate.resolve();
    await server.close();
    await Deno.remove(usersDir, { recursive: true });
  }
});
