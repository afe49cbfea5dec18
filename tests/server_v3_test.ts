/**
 * The server's version 3 session over real sockets: the handshake, pipelined requests answered in
 * order, blobs checked against their ids, commits that list what they lack, snapshots listed,
 * read back and forgotten, and a run cut short whose blobs the next run finds.
 */
import assert from "node:assert/strict";
import { encodeBlob } from "../repository/blob_codec.ts";
import {
  BlobEncoding,
  BlobKind,
  encodeHandshakeRequestV3,
  encodeRequestV3,
  OpV3,
  RefusalCode,
  type ResponseV3,
  StatusV3,
} from "../protocol/v3/mod.ts";
import { startServer } from "../server/server.ts";
import { Access } from "../server/access.ts";
import { createLogger } from "../server/log.ts";
import type { Storage } from "../storage/storage.ts";
import {
  concat,
  eventually,
  hex,
  sameBytes,
  startTestServer,
  type TestServer,
  toHex,
} from "./_helpers.ts";
import { makeKey, startV2Server, type TestAccount, TLS, usersFileText } from "./_v2.ts";
import { putData, putTree, RawV3, sha256 } from "./_v3.ts";
import type { ClientKey } from "../client/keys.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 77;
const text = (value: string) => new TextEncoder().encode(value);
const blob = (i: number) => text(`blob number ${i} `.repeat(1 + (i % 7)));

/** A plain server with these accounts (the first listener: version 3 is allowed on it). */
async function startV3Server(
  accounts: TestAccount[],
): Promise<TestServer & { usersDir: string }> {
  const usersDir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  const usersFile = `${usersDir}/users.json`;
  await Deno.writeTextFile(usersFile, usersFileText(accounts));
  const t = await startTestServer({ access: { usersFile } });
  return {
    ...t,
    usersDir,
    async [Symbol.asyncDispose]() {
      await t[Symbol.asyncDispose]();
      await Deno.remove(usersDir, { recursive: true });
    },
  };
}

/** A signed-in raw session. */
async function signedIn(port: number, key: ClientKey, userId = USER): Promise<RawV3> {
  const raw = await RawV3.connect(port);
  const welcome = await raw.signIn(userId, key);
  assert.equal(welcome?.kind, "handshake");
  assert.equal(welcome.response.status, StatusV3.Authenticated);
  return raw;
}

function refusal(response: ResponseV3) {
  assert.equal(response.status, StatusV3.Refused, JSON.stringify(response));
  return response as ResponseV3 & { status: 1003 };
}

const record = (label: string) => text(`{"label":"${label}"}`);

Deno.test("a listed key signs in (221); a wrong key gets 1003 code 2 and a close", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  {
    using raw = await signedIn(t.port, alice);
    await raw.request({ op: OpV3.ListSnapshots, userId: USER, tag: 1 });
    assert.deepEqual(await raw.answer(), { status: StatusV3.Snapshots, tag: 1 });
    assert.deepEqual(await raw.next(), { kind: "end-of-snapshots", tag: 1 });
  }
  using raw = await RawV3.connect(t.port);
  const answer = await raw.signIn(USER, await makeKey());
  assert.equal(answer?.kind, "handshake");
  assert.equal(answer.response.status, StatusV3.Refused);
  assert.equal((answer.response as { code: number }).code, RefusalCode.AuthFailed);
  assert.equal(await raw.next(), null);
  const lines = t.logs.map((line) => JSON.parse(line));
  assert.ok(lines.some((line) => line.op === "auth" && line.status === 221));
  assert.ok(lines.some((line) => line.msg === "handshake failed"));
});

Deno.test("200 PutBlobs in one write are answered 231 in order; Missing before and after", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  const puts = Array.from({ length: 200 }, (_, i) => putData(USER, 1000 + i, blob(i)));
  const ids = puts.map((put) => put.id);
  await raw.request({ op: OpV3.Missing, userId: USER, tag: 1, ids });
  const before = await raw.answer();
  assert.equal(before.status, StatusV3.MissingIds);
  assert.ok((before as { missing: boolean[] }).missing.every((missing) => missing));
  // One write: the server reads ahead and works on them while earlier answers go out.
  await raw.request({ op: OpV3.OpenSnapshot, userId: USER, tag: 2 }, ...puts, {
    op: OpV3.Missing,
    userId: USER,
    tag: 3,
    ids: [...ids, sha256(text("never sent"))],
  });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 2 });
  for (const put of puts) {
    assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: put.tag });
  }
  const after = await raw.answer();
  assert.equal(after.tag, 3);
  assert.deepEqual((after as { missing: boolean[] }).missing, [...ids.map(() => false), true]);
  const stats = t.server.stats();
  assert.equal(stats.requests["put-blob"]["231"], 200);
  assert.equal(stats.bytesIn, puts.reduce((sum, put) => sum + put.bytes.length, 0));
});

Deno.test("a PutBlob whose bytes hash otherwise gets 1003 code 6 and the session goes on", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  const lying = { ...putData(USER, 5, text("the bytes")), id: sha256(text("other bytes")) };
  await raw.request(lying, { op: OpV3.Missing, userId: USER, tag: 6, ids: [lying.id] });
  const refused = refusal(await raw.answer());
  assert.equal(refused.tag, 5);
  assert.equal(refused.code, RefusalCode.DigestMismatch);
  assert.deepEqual(await raw.answer(), { status: StatusV3.MissingIds, tag: 6, missing: [true] });
});

Deno.test("a malformed frame gets 1003 code 1 echoing its tag, then the connection closes", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  const good = encodeRequestV3({ op: OpV3.ListSnapshots, userId: USER, tag: 8 });
  // A PutBlob head with blob kind 9, tag 0x2a.
  const broken = concat(hex("4d000000 03 0b 2a000000"), new Uint8Array(32), hex("09 00"));
  await raw.send(concat(good, broken));
  assert.deepEqual(await raw.answer(), { status: StatusV3.Snapshots, tag: 8 });
  assert.deepEqual(await raw.next(), { kind: "end-of-snapshots", tag: 8 });
  const refused = refusal(await raw.answer());
  assert.equal(refused.tag, 0x2a);
  assert.equal(refused.code, RefusalCode.BadRequest);
  assert.equal(await raw.next(), null);
});

Deno.test("a commit lacking a blob gets 234 naming it; sent, the commit is 233 and listed", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  const present = putData(USER, 1, text("present chunk"));
  const absent = putData(USER, 4, text("absent chunk"));
  const tree = putTree(USER, 2, [present.id, absent.id]);
  const snapshot = record("first");
  const commit = (tag: number) => ({
    op: OpV3.CommitSnapshot,
    userId: USER,
    tag,
    id: sha256(snapshot),
    tree: tree.id,
    record: snapshot,
  } as const);
  await raw.request(present, tree, commit(3));
  assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 1 });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 2 });
  const incomplete = await raw.answer();
  assert.equal(incomplete.status, StatusV3.Incomplete);
  assert.deepEqual((incomplete as { ids: Uint8Array[] }).ids.map(toHex), [toHex(absent.id)]);
  await raw.request(absent, commit(5), { op: OpV3.ListSnapshots, userId: USER, tag: 6 });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 4 });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 5 });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Snapshots, tag: 6 });
  const listed = await raw.next();
  assert.equal(listed?.kind, "snapshot");
  assert.equal(toHex(listed.entry.id), toHex(sha256(snapshot)));
  assert.deepEqual(listed.entry.record, snapshot);
  assert.deepEqual(await raw.next(), { kind: "end-of-snapshots", tag: 6 });
});

Deno.test("GetBlob answers a blob as stored (zstd stays zstd); an unknown id gets 1001", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  const rawBytes = text("compressible ".repeat(4000));
  const encoded = encodeBlob(rawBytes);
  assert.equal(encoded.compression, "zstd");
  const put = {
    ...putData(USER, 1, rawBytes),
    encoding: BlobEncoding.Zstd,
    bytes: encoded.stored,
  };
  const plain = putData(USER, 2, text("plain"));
  const tree = putTree(USER, 3, [put.id, plain.id]);
  const snapshot = record("get");
  await raw.request(put, plain, tree, {
    op: OpV3.CommitSnapshot,
    userId: USER,
    tag: 4,
    id: sha256(snapshot),
    tree: tree.id,
    record: snapshot,
  });
  for (const tag of [1, 2, 3]) assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 4 });
  const unknown = sha256(text("unknown"));
  await raw.request(
    { op: OpV3.GetBlob, userId: USER, tag: 5, id: put.id },
    { op: OpV3.GetBlob, userId: USER, tag: 6, id: unknown },
    { op: OpV3.GetBlob, userId: USER, tag: 7, id: plain.id },
  );
  assert.deepEqual(await raw.answer(), {
    status: StatusV3.Blob,
    tag: 5,
    kind: BlobKind.Data,
    encoding: BlobEncoding.Zstd,
    rawLength: rawBytes.length,
    bytes: encoded.stored,
  });
  assert.deepEqual(await raw.answer(), { status: StatusV3.NotFound, tag: 6, id: unknown });
  const third = await raw.answer();
  assert.equal(third.tag, 7);
  assert.deepEqual((third as { bytes: Uint8Array }).bytes, text("plain"));
});

/** Commits one snapshot of one blob; resolves its id. */
async function commitOne(raw: RawV3, label: string): Promise<Uint8Array> {
  const data = putData(USER, 1, text(`content of ${label}`));
  const tree = putTree(USER, 2, [data.id]);
  const snapshot = record(label);
  const id = sha256(snapshot);
  await raw.request(data, tree, {
    op: OpV3.CommitSnapshot,
    userId: USER,
    tag: 3,
    id,
    tree: tree.id,
    record: snapshot,
  });
  for (const tag of [1, 2]) assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 3 });
  return id;
}

Deno.test("Forget removes a snapshot (then 1001); an append-only account is refused, code 3", async () => {
  const alice = await makeKey();
  const bob = await makeKey();
  await using t = await startV3Server([
    { id: USER, keys: [alice] },
    { id: 78, keys: [bob], appendOnly: true },
  ]);
  {
    using raw = await signedIn(t.port, alice);
    const id = await commitOne(raw, "to forget");
    await raw.request(
      { op: OpV3.ForgetSnapshot, userId: USER, tag: 10, id },
      { op: OpV3.ForgetSnapshot, userId: USER, tag: 11, id },
      { op: OpV3.ListSnapshots, userId: USER, tag: 12 },
    );
    assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 10 });
    assert.deepEqual(await raw.answer(), { status: StatusV3.NotFound, tag: 11, id });
    assert.deepEqual(await raw.answer(), { status: StatusV3.Snapshots, tag: 12 });
    assert.deepEqual(await raw.next(), { kind: "end-of-snapshots", tag: 12 });
  }
  using raw = await RawV3.connect(t.port);
  const welcome = await raw.signIn(78, bob);
  assert.deepEqual(welcome, {
    kind: "handshake",
    response: { status: StatusV3.Authenticated, appendOnly: true },
  });
  const data = putData(78, 1, text("kept"));
  const tree = putTree(78, 2, [data.id]);
  const snapshot = record("kept");
  const id = sha256(snapshot);
  await raw.request(
    data,
    tree,
    {
      op: OpV3.CommitSnapshot,
      userId: 78,
      tag: 3,
      id,
      tree: tree.id,
      record: snapshot,
    },
    { op: OpV3.ForgetSnapshot, userId: 78, tag: 4, id },
    {
      op: OpV3.ListSnapshots,
      userId: 78,
      tag: 5,
    },
  );
  for (const tag of [1, 2]) assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
  assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 3 });
  const refused = refusal(await raw.answer());
  assert.equal(refused.tag, 4);
  assert.equal(refused.code, RefusalCode.Forbidden);
  assert.deepEqual(await raw.answer(), { status: StatusV3.Snapshots, tag: 5 });
  assert.equal((await raw.next())?.kind, "snapshot");
});

Deno.test("a client that closes mid-session leaves its blobs for the next session's Missing", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  const puts = Array.from({ length: 20 }, (_, i) => putData(USER, i + 1, blob(i + 500)));
  const ids = puts.map((put) => put.id);
  {
    using raw = await signedIn(t.port, alice);
    await raw.request({ op: OpV3.OpenSnapshot, userId: USER, tag: 0 }, ...puts);
    assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 0 });
    for (const put of puts) {
      assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: put.tag });
    }
  } // closed without a commit
  using raw = await signedIn(t.port, alice);
  let tag = 100;
  // The old session is closed by the server once it sees the end: poll, bounded.
  await eventually(async () => {
    await raw.request({ op: OpV3.Missing, userId: USER, tag: ++tag, ids });
    const answer = await raw.answer();
    return (answer as { missing: boolean[] }).missing.every((missing) => !missing);
  }, "the cut session's blobs to be indexed");
});

/** `size` bytes that do not repeat (`getRandomValues` fills at most 64 KiB at a time). */
function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

Deno.test("a small window still serves blobs larger than it, in order, one after another", async () => {
  const alice = await makeKey();
  const usersDir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  const usersFile = `${usersDir}/users.json`;
  await Deno.writeTextFile(usersFile, usersFileText([{ id: USER, keys: [alice] }]));
  await using t = await startTestServer({
    access: { usersFile },
    limits: { pipelineRequests: 3, pipelineBytes: 1024 * 1024 },
  });
  try {
    using raw = await signedIn(t.port, alice);
    const sizes = [600_000, 700_000, 3 * 1024 * 1024, 500_000, 900_000, 2 * 1024 * 1024, 100];
    const puts = sizes.map((size, i) => putData(USER, i + 1, randomBytes(size)));
    const ids = puts.map((put) => put.id);
    const gets = ids.map((id, i) =>
      ({ op: OpV3.GetBlob, userId: USER, tag: 100 + i, id }) as const
    );
    const snapshot = record("window");
    const tree = putTree(USER, 50, ids);
    await raw.request(...puts, tree, {
      op: OpV3.CommitSnapshot,
      userId: USER,
      tag: 51,
      id: sha256(snapshot),
      tree: tree.id,
      record: snapshot,
    }, ...gets);
    for (const put of [...puts, tree]) {
      assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: put.tag });
    }
    assert.deepEqual(await raw.answer(), { status: StatusV3.Committed, tag: 51 });
    for (const [i, get] of gets.entries()) {
      const answer = await raw.answer() as ResponseV3 & { status: 232 };
      assert.equal(answer.tag, get.tag);
      assert.ok(sameBytes(answer.bytes, puts[i].bytes), `blob ${i} read back as stored`);
    }
  } finally {
    await Deno.remove(usersDir, { recursive: true });
  }
});

Deno.test("an idle session is closed by the idle timeout; shutdown closes an idle one at once", async () => {
  const alice = await makeKey();
  const usersDir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  const usersFile = `${usersDir}/users.json`;
  await Deno.writeTextFile(usersFile, usersFileText([{ id: USER, keys: [alice] }]));
  try {
    await using t = await startTestServer({
      access: { usersFile },
      limits: { idleTimeoutMs: 300 },
    });
    {
      using raw = await signedIn(t.port, alice);
      await raw.request({ op: OpV3.Missing, userId: USER, tag: 1, ids: [sha256(text("x"))] });
      assert.equal((await raw.answer()).status, StatusV3.MissingIds);
      assert.equal(await raw.next(), null); // nothing sent: the idle timeout closes it
      assert.ok(t.logs.some((line) => JSON.parse(line).reason === "idle timeout"));
    }
    using raw = await signedIn(t.port, alice);
    const started = performance.now();
    await t.server.close(); // the default shutdown timeout is 10 s: an idle session goes at once
    assert.ok(performance.now() - started < 5000, "shutdown waited for an idle v3 session");
    assert.equal(await raw.next(), null);
  } finally {
    await Deno.remove(usersDir, { recursive: true });
  }
});

Deno.test("over quota is code 5 and the session goes on; a key removed by a reload ends it (code 2)", async () => {
  const alice = await makeKey();
  const bob = await makeKey();
  await using t = await startV3Server([
    { id: USER, keys: [alice] },
    { id: 78, keys: [bob], quota: "1K" },
  ]);
  {
    using raw = await signedIn(t.port, bob, 78);
    const small = putData(78, 2, text("small"));
    await raw.request(putData(78, 1, randomBytes(4096)), small);
    const refused = refusal(await raw.answer());
    assert.equal(refused.tag, 1);
    assert.equal(refused.code, RefusalCode.QuotaExceeded);
    // The frame was read in full: the session goes on.
    assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 2 });
  }
  using raw = await signedIn(t.port, alice);
  await Deno.writeTextFile(t.usersDir + "/users.json", usersFileText([{ id: 78, keys: [bob] }]));
  await t.server.reload();
  await raw.request({ op: OpV3.ListSnapshots, userId: USER, tag: 4 });
  const refused = refusal(await raw.answer());
  assert.equal(refused.tag, 4);
  assert.equal(refused.code, RefusalCode.AuthFailed);
  assert.equal(await raw.next(), null);
});

Deno.test("a request for another user closes the session (1003 code 3, tag echoed)", async () => {
  const alice = await makeKey();
  await using t = await startV3Server([{ id: USER, keys: [alice] }]);
  using raw = await signedIn(t.port, alice);
  await raw.request({ op: OpV3.ListSnapshots, userId: 78, tag: 9 });
  const refused = refusal(await raw.answer());
  assert.equal(refused.tag, 9);
  assert.equal(refused.code, RefusalCode.Forbidden);
  assert.equal(await raw.next(), null);
});

Deno.test("a store without snapshots answers the v3 Hello 1003 code 1 and closes", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-test-root-" });
  await using t = await startTestServer({ root });
  // The same store seen without its snapshots, as S3 is today.
  const storage = t.server.storage;
  const withoutSnapshots = new Proxy(storage, {
    get: (target, key) => {
      if (key === "snapshots") return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Storage;
  const server = await startServer({
    storage: withoutSnapshots,
    access: await Access.load(),
    hostname: "127.0.0.1",
    port: 0,
    logger: createLogger({ writeLine: () => {} }),
  });
  try {
    using raw = await RawV3.connect(server.addr.port);
    await raw.send(encodeHandshakeRequestV3({ op: OpV3.Hello, userId: USER }));
    const bytes = new Uint8Array(64);
    let filled = 0;
    for (let count; (count = await raw.conn.read(bytes.subarray(filled))) !== null;) {
      filled += count;
    }
    const message = text("this store keeps no snapshots");
    assert.equal(
      toHex(bytes.subarray(0, filled)),
      toHex(concat(hex("03 eb03 0100 1d00"), message)),
    );
  } finally {
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("beside TLS, the plain port refuses a v3 Hello as it refuses v2; TLS serves it", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: USER, keys: [alice] }], {
    access: { allowV1: true },
    plainListen: { hostname: "127.0.0.1", port: 0 },
  });
  {
    using raw = await RawV3.connect(t.server.plainAddr!.port);
    const answer = await raw.signIn(USER, alice);
    assert.equal(answer?.kind, "handshake");
    assert.equal((answer.response as { code: number }).code, RefusalCode.Forbidden);
    assert.match((answer.response as { message: string }).message, /plain TCP/);
    assert.equal(await raw.next(), null);
  }
  using raw = await RawV3.connect(t.port, true);
  const welcome = await raw.signIn(USER, alice);
  assert.equal(welcome?.kind === "handshake" && welcome.response.status, StatusV3.Authenticated);
  assert.ok(TLS.certFile);
});
