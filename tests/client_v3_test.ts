/**
 * The version 3 client (client/session_v3.ts) against a fake server that speaks the codec and
 * lies as it is told: many requests in flight and bounded, answers paired by order and tag, blobs
 * checked against their ids, zstd capped, lists bounded, silence timed out, refusals typed.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { BlobEncoding, BlobKind, OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import { encodeHandshakeResponseV3 } from "../protocol/v3/handshake.ts";
import type { PutBlobRequest, RequestV3 } from "../protocol/v3/requests.ts";
import {
  encodeResponseV3,
  encodeSnapshotEntryParts,
  END_OF_SNAPSHOTS,
} from "../protocol/v3/responses.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { ServerRefusedError, ServerSpeaksTlsError } from "../client/client_errors.ts";
import { BlobUnavailableError } from "../client/snapshot/blobs.ts";
import {
  AnswerTimeoutError,
  ProtocolV3UnsupportedError,
  SnapshotNotFoundError,
} from "../client/errors_v3.ts";
import { SilenceTimer, type Timers } from "../client/silence_timer_v3.ts";
import { SessionV3, type SessionV3Options } from "../client/session_v3.ts";
import { drain, startFakeServerV3 } from "./_fake_server_v3.ts";
import { CA, makeKey, startV2Server } from "./_v2.ts";
import { encodeTree } from "../protocol/v3/tree.ts";
import { decodeSnapshot, encodeSnapshot } from "../protocol/v3/snapshot.ts";
import { archive } from "../client/snapshot/archiver.ts";
import { restore } from "../client/snapshot/restorer.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const key = await makeKey();
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const bytesOf = (text: string) => new TextEncoder().encode(text);
const done = (request: RequestV3) => encodeResponseV3({ status: StatusV3.Done, tag: request.tag });

/** A clock a test moves by hand: the clock of a server that stays silent. */
class ManualTimers implements Timers {
  readonly live = new Map<number, () => void>();
  nowMs = 0;
  #next = 1;
  setTimeout(callback: () => void): number {
    this.live.set(this.#next, callback);
    return this.#next++;
  }
  clearTimeout(handle: unknown): void {
    this.live.delete(handle as number);
  }
  now(): number {
    return this.nowMs;
  }
  /** Moves the clock by `ms` (a day unless told) and runs the timers armed before. */
  fire(ms = 86_400_000): void {
    this.nowMs += ms;
    const callbacks = [...this.live.values()];
    this.live.clear();
    for (const callback of callbacks) callback();
  }
}

function connect(port: number, options: Partial<SessionV3Options> = {}): Promise<SessionV3> {
  // A generous real timeout as a backstop: a client that waits where it should not fails, never hangs.
  return SessionV3.connect({ port, userId: 77, key, timeoutMs: 20_000, ...options });
}

/** A blob to put: its id, its bytes, and its kind. */
function dataBlob(text: string) {
  const raw = bytesOf(text);
  return { id: sha(raw), kind: "data" as const, raw };
}

/** Settles every promise; returns what each was rejected with (undefined if fulfilled). */
async function rejections(promises: Promise<unknown>[]): Promise<unknown[]> {
  const results = await Promise.allSettled(promises);
  return results.map((result) => result.status === "rejected" ? result.reason : undefined);
}

Deno.test("64 puts are all on the wire before the server answers any; answers settle them in order", async () => {
  const seen: PutBlobRequest[] = [];
  await using fake = startFakeServerV3(async (conn) => {
    while (seen.length < 64) seen.push((await conn.next()) as PutBlobRequest);
    await conn.send(...seen.map(done));
    await drain(conn);
  });
  await using session = await connect(fake.port);
  const text = "a line that repeats, so zstd pays\n".repeat(200);
  const blobs = Array.from({ length: 64 }, (_, i) => dataBlob(`${i}:${text}`));
  await Promise.all(blobs.map((blob) => session.put(blob)));
  assert.equal(seen.length, 64);
  assert.deepEqual(seen.map((request) => request.tag), seen.map((_, i) => i + 1));
  for (const [i, request] of seen.entries()) {
    assert.equal(request.id.toHex(), blobs[i].id);
    assert.equal(request.encoding, BlobEncoding.Zstd, "compressible bytes go as zstd");
    assert.ok(request.bytes.length < blobs[i].raw.length / 4);
  }
  assert.equal(session.unanswered, 0);
});

Deno.test("a put of noise goes raw; a tree goes with its refs", async () => {
  const seen: PutBlobRequest[] = [];
  await using fake = startFakeServerV3(async (conn) => {
    for (let request = await conn.next(); request; request = await conn.next()) {
      seen.push(request as PutBlobRequest);
      await conn.send(done(request));
    }
  });
  await using session = await connect(fake.port);
  const noise = crypto.getRandomValues(new Uint8Array(4096));
  await session.put({ id: sha(noise), kind: "data", raw: noise });
  const chunk = dataBlob("x");
  const tree = bytesOf(`{"entries":[{"content":["${chunk.id}"]}]}`);
  await session.put({ id: sha(tree), kind: "tree", raw: tree, refs: [chunk.id] });
  assert.equal(seen[0].encoding, BlobEncoding.Raw);
  assert.deepEqual(seen[0].bytes, noise);
  assert.equal(seen[1].kind, BlobKind.Tree);
  assert.deepEqual(seen[1].refs.map((ref) => ref.toHex()), [chunk.id]);
});

Deno.test("the window bounds requests in flight by count and by bytes", async () => {
  for (const limits of [{ maxRequests: 4 }, { maxUnansweredBytes: 3 * 1100 }]) {
    const cap = limits.maxRequests ?? 3; // 3 frames of 1,056 bytes fit in 3,300, 4 do not
    let most = 0;
    let received = 0;
    let held: RequestV3[] = [];
    await using fake = startFakeServerV3(async (conn) => {
      for (let request = await conn.next(); request; request = await conn.next()) {
        held.push(request);
        received++;
        // What came in the same reads counts too: the client writes all it may at once.
        most = Math.max(most, held.length + conn.received());
        // Answers only when the client may send no more: all it may have out, or the last.
        if (held.length === cap || received === 10) {
          await conn.send(...held.map(done));
          held = [];
        }
      }
    });
    await using session = await connect(fake.port, limits);
    const noise = (i: number) => {
      const raw = crypto.getRandomValues(new Uint8Array(1000));
      raw[0] = i;
      return { id: sha(raw), kind: "data" as const, raw };
    };
    await Promise.all(Array.from({ length: 10 }, (_, i) => session.put(noise(i))));
    assert.equal(most, cap, JSON.stringify(limits));
  }
});

Deno.test("missing asks 8,192 ids at most per request, all batches at once, answers in the caller's order", async () => {
  const seen: number[] = [];
  await using fake = startFakeServerV3(async (conn) => {
    const requests: RequestV3[] = [];
    while (requests.length < 2) requests.push((await conn.next())!);
    for (const request of requests) {
      const ids = (request as { ids: Uint8Array[] }).ids;
      seen.push(ids.length);
      // Missing: the ids whose first byte is odd.
      const missing = ids.map((id) => id[0] % 2 === 1);
      await conn.send(encodeResponseV3({ status: StatusV3.MissingIds, tag: request.tag, missing }));
    }
    await drain(conn);
  });
  await using session = await connect(fake.port);
  const ids = Array.from({ length: 10_000 }, (_, i) => sha(bytesOf(`${i}`)));
  const answer = await session.missing(ids);
  assert.deepEqual(seen, [8192, 1808]);
  assert.deepEqual(answer, ids.map((id) => parseInt(id.slice(0, 2), 16) % 2 === 1));
  assert.deepEqual(await session.missing([]), []);
});

/** Three requests out (two puts and a missing), for tests of a server that answers wrongly. */
async function threeCalls(answer: (requests: RequestV3[]) => Uint8Array[], thenClose = false) {
  await using fake = startFakeServerV3(async (conn) => {
    const requests: RequestV3[] = [];
    while (requests.length < 3) requests.push((await conn.next())!);
    await conn.send(...answer(requests));
    if (!thenClose) await drain(conn);
  });
  await using session = await connect(fake.port);
  const calls = [
    session.put(dataBlob("one")),
    session.put(dataBlob("two")),
    session.missing([dataBlob("three").id]),
  ];
  const errors = await rejections(calls);
  // Every later call is refused with the same error: the connection is over.
  errors.push(...await rejections([session.put(dataBlob("four"))]));
  return errors;
}

Deno.test("answers out of order, with a tag never sent, or with a status for another op: ProtocolError for every call", async () => {
  const cases: [string, (requests: RequestV3[]) => Uint8Array[], RegExp][] = [
    ["out of order", (r) => [done(r[1]), done(r[0])], /an answer tagged 2 where 1 was due/],
    ["unknown tag", (r) => [done({ ...r[0], tag: 99 })], /tagged 99 where 1 was due/],
    [
      "wrong status",
      (r) => [done(r[0]), done(r[1]), done(r[2])],
      /status 231 does not answer op 10/,
    ],
    [
      "answer to nothing",
      (r) => [...r.map((request, i) => i < 2 ? done(request) : missingAnswer(request)), done(r[0])],
      // Tag 1 again: after the third answer, or (if the next call went out first) where 4 was due.
      /an answer \(tag 1\) to no request|tagged 1 where 4 was due/,
    ],
  ];
  for (const [what, answer, message] of cases) {
    const errors = await threeCalls(answer);
    if (what === "wrong status" || what === "answer to nothing") {
      // The puts were answered rightly before the fault: only what was still out is rejected.
      assert.deepEqual(errors.slice(0, 2), [undefined, undefined], what);
      const rest = what === "wrong status" ? errors.slice(2) : errors.slice(3);
      for (const error of rest) assert.ok(error instanceof ProtocolError, what);
      assert.match(String(rest[0]), message, what);
      continue;
    }
    assert.equal(errors.length, 4);
    for (const error of errors) {
      assert.ok(error instanceof ProtocolError, `${what}: ${error}`);
      assert.match((error as Error).message, message, what);
    }
  }
});

function missingAnswer(request: RequestV3): Uint8Array {
  const count = (request as { ids: Uint8Array[] }).ids.length;
  return encodeResponseV3({
    status: StatusV3.MissingIds,
    tag: request.tag,
    missing: Array(count).fill(true),
  });
}

Deno.test("a server that closes in the middle of an answer fails every call waiting", async () => {
  const errors = await threeCalls((r) => [done(r[0]).subarray(0, 4)], true);
  for (const error of errors) {
    assert.ok(
      error instanceof ConnectionLostError || error instanceof ProtocolError,
      String(error),
    );
  }
  assert.match(String(errors[0]), /inside a frame/);
});

function blobAnswer(
  tag: number,
  bytes: Uint8Array,
  fields: { kind?: BlobKind; encoding?: BlobEncoding; rawLength?: number } = {},
): Uint8Array {
  return encodeResponseV3({
    status: StatusV3.Blob,
    tag,
    kind: fields.kind ?? BlobKind.Data,
    encoding: fields.encoding ?? BlobEncoding.Raw,
    rawLength: fields.rawLength ?? bytes.length,
    bytes,
  });
}

Deno.test("get decodes and checks a blob; bytes that are not the id's, or of another kind: BlobUnavailableError", async () => {
  const good = bytesOf("the real chunk ".repeat(100));
  const { stored } = encodeBlob(good);
  let tag = 0;
  const answers = new Map<string, () => Uint8Array>([
    [
      sha(good),
      () => blobAnswer(tag, stored, { encoding: BlobEncoding.Zstd, rawLength: good.length }),
    ],
    [sha(bytesOf("asked")), () => blobAnswer(tag, bytesOf("other"))],
    [sha(bytesOf("a tree")), () => blobAnswer(tag, bytesOf("a tree"))],
    [
      sha(bytesOf("gone")),
      () =>
        encodeResponseV3({
          status: StatusV3.NotFound,
          tag,
          id: Uint8Array.fromHex(sha(bytesOf("gone"))),
        }),
    ],
  ]);
  await using fake = startFakeServerV3(async (conn) => {
    for (let request = await conn.next(); request; request = await conn.next()) {
      tag = request.tag;
      await conn.send(answers.get((request as { id: Uint8Array }).id.toHex())!());
    }
  });
  await using session = await connect(fake.port);
  assert.deepEqual(await session.get(sha(good), "data"), good);
  await assert.rejects(session.get(sha(bytesOf("asked")), "data"), BlobUnavailableError);
  await assert.rejects(session.get(sha(bytesOf("asked")), "data"), /do not match the id/);
  await assert.rejects(
    session.get(sha(bytesOf("a tree")), "tree"),
    /asked for a tree blob, got a data/,
  );
  await assert.rejects(session.get(sha(bytesOf("gone")), "data"), /no such blob/);
  // None of these ends the session: the server kept the protocol, it only had the wrong bytes.
  assert.deepEqual(await session.get(sha(good), "data"), good);
});

Deno.test("a zstd bomb (declared 1 KiB, decodes to 1 MiB) is refused without decoding past 1 KiB", async () => {
  const { stored, compression } = encodeBlob(new Uint8Array(1024 * 1024));
  assert.equal(compression, "zstd");
  // The frame's own content size says 1 MiB; a bomb that lies there too: 1024 (4-byte field).
  const lying = stored.slice();
  assert.equal(lying[4] >> 6, 2, "a 4-byte content size field");
  new DataView(lying.buffer).setUint32(5 + (((lying[4] >> 5) & 1) ? 0 : 1), 1024, true);
  const asked = sha(new Uint8Array(1024));
  for (const bomb of [stored, lying]) {
    await using fake = startFakeServerV3(async (conn) => {
      for (let request = await conn.next(); request; request = await conn.next()) {
        await conn.send(
          blobAnswer(request.tag, bomb, { encoding: BlobEncoding.Zstd, rawLength: 1024 }),
        );
      }
    });
    await using session = await connect(fake.port);
    await assert.rejects(session.get(asked, "data"), (error: Error) => {
      assert.ok(error instanceof BlobUnavailableError, String(error));
      // The honest frame is refused by its header; the lying one by zstd, at 1 KiB of output.
      assert.match(error.message, bomb === stored ? /declaring 1024 bytes/ : /does not decode/);
      return true;
    });
  }
});

/** Snapshot records (padded to `pad` bytes or more) and their entries, stored a second apart. */
function snapshots(count: number, pad = 0, fromMs = Date.UTC(2026, 0, 1)) {
  return Array.from({ length: count }, (_, i) => {
    const record = bytesOf(`{"n":${i},"pad":"${"p".repeat(pad)}"}`);
    return { id: Uint8Array.fromHex(sha(record)), storedMs: fromMs + i * 1000, record };
  });
}

/** A server that answers ListSnapshots with `entries` (then the end mark), anything else 231. */
function listServer(entries: () => Iterable<Uint8Array[]>) {
  return startFakeServerV3(async (conn) => {
    for (let request = await conn.next(); request; request = await conn.next()) {
      if (request.op !== OpV3.ListSnapshots) {
        await conn.send(done(request));
        continue;
      }
      await conn.send(encodeResponseV3({ status: StatusV3.Snapshots, tag: request.tag }));
      for (const parts of entries()) await conn.send(...parts);
      await conn.send(END_OF_SNAPSHOTS);
    }
  });
}

Deno.test("listSnapshots yields each snapshot checked against its id; one stopped early leaves the session usable", async () => {
  const stored = snapshots(300);
  await using fake = listServer(() => stored.map(encodeSnapshotEntryParts));
  await using session = await connect(fake.port);
  const listed = await Array.fromAsync(session.listSnapshots());
  assert.deepEqual(listed.map((s) => s.id), stored.map((s) => s.id.toHex()));
  assert.deepEqual(listed[299].record, stored[299].record);
  assert.equal(listed[0].storedMs, stored[0].storedMs);
  // 300 entries, more than the client holds for a slow consumer; it stops after one.
  for await (const _ of session.listSnapshots()) break;
  await session.openSnapshot();
  assert.equal(session.unanswered, 0);
});

Deno.test("a record that does not hash to its id ends the list and the session", async () => {
  const [one] = snapshots(1);
  await using fake = listServer(
    () => [encodeSnapshotEntryParts({ ...one, record: bytesOf("{}") })],
  );
  await using session = await connect(fake.port);
  await assert.rejects(Array.fromAsync(session.listSnapshots()), /does not hash to its id/);
  await assert.rejects(session.openSnapshot(), ProtocolError);
});

Deno.test("an endless list of snapshots is stopped at the client's bound", async () => {
  let sent = 0;
  const endless = function* () {
    // Bounded here too, so that a client without a bound fails the test instead of running on.
    // 1 KiB records: 50 MB in all, more than any socket buffer holds once the client stops reading.
    for (const entry of snapshots(50_000, 1024)) {
      sent++;
      yield encodeSnapshotEntryParts(entry);
    }
  };
  await using fake = listServer(endless);
  await using session = await connect(fake.port, { maxListEntries: 1000 });
  let yielded = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of session.listSnapshots()) yielded++;
    })(),
    /more than 1000 snapshots without ending the list/,
  );
  assert.ok(yielded <= 1000, `${yielded}`);
  assert.ok(sent < 50_000, `the server was cut off (${sent} sent)`);
  await assert.rejects(session.openSnapshot(), ProtocolError);
  // And by bytes: 50 entries of 1 KiB are over 50,000 bytes.
  await using bytes = await connect(fake.port, { maxListBytes: 50_000 });
  await assert.rejects(
    Array.fromAsync(bytes.listSnapshots()),
    /more than 50000 bytes of snapshots/,
  );
});

Deno.test("a server silent while answers are due fails every call waiting at the timeout; an idle session has no timer", async () => {
  const timers = new ManualTimers();
  let saw: () => void;
  const seen = new Promise<void>((resolve) => saw = resolve);
  await using fake = startFakeServerV3(async (conn) => {
    const first = (await conn.next())!;
    await conn.send(done(first));
    const silent: RequestV3[] = [];
    while (silent.length < 3) silent.push((await conn.next())!);
    saw();
    await drain(conn);
  });
  await using session = await connect(fake.port, { timeoutMs: 5000, timers });
  await session.openSnapshot();
  assert.equal(timers.live.size, 0, "nothing due: no timer");
  const calls = [
    session.put(dataBlob("a")),
    session.missing([dataBlob("b").id]),
    session.get(dataBlob("c").id, "data"),
  ];
  await seen;
  assert.equal(timers.live.size, 1, "answers due: one timer");
  timers.fire();
  const errors = await rejections(calls);
  for (const error of errors) {
    assert.ok(error instanceof AnswerTimeoutError, String(error));
    assert.match(String(error), /no answer from the server within 5 s \(3 requests waiting\)/);
  }
  await assert.rejects(session.openSnapshot(), AnswerTimeoutError);
  assert.equal(timers.live.size, 0);
});

Deno.test("a refusal 1003 code 5 is a quota error for its call only; the session goes on", async () => {
  await using fake = startFakeServerV3(async (conn) => {
    for (let request = await conn.next(); request; request = await conn.next()) {
      const refuse = request.op === OpV3.PutBlob && request.rawLength > 100;
      await conn.send(
        refuse
          ? encodeResponseV3({
            status: StatusV3.Refused,
            tag: request.tag,
            code: RefusalCode.QuotaExceeded,
            message: "over quota",
          })
          : done(request),
      );
    }
  });
  await using session = await connect(fake.port);
  const big = crypto.getRandomValues(new Uint8Array(1000));
  const [refused, accepted] = await rejections([
    session.put({ id: sha(big), kind: "data", raw: big }),
    session.put(dataBlob("small")),
  ]);
  assert.ok(refused instanceof ServerRefusedError, String(refused));
  assert.equal(refused.code, RefusalCode.QuotaExceeded);
  assert.match(refused.message, /refused the upload of a blob: over quota/);
  assert.equal(accepted, undefined);
  await session.openSnapshot();
});

Deno.test("commit: 234 gives the missing ids to send, then 233; forget of an unknown id: SnapshotNotFoundError", async () => {
  const chunk = dataBlob("chunk");
  const commits: RequestV3[] = [];
  let stored = false;
  await using fake = startFakeServerV3(async (conn) => {
    for (let request = await conn.next(); request; request = await conn.next()) {
      if (request.op === OpV3.PutBlob) stored = true;
      if (request.op === OpV3.CommitSnapshot) {
        commits.push(request);
        await conn.send(
          stored
            ? encodeResponseV3({ status: StatusV3.Committed, tag: request.tag })
            : encodeResponseV3({
              status: StatusV3.Incomplete,
              tag: request.tag,
              ids: [Uint8Array.fromHex(chunk.id)],
            }),
        );
      } else if (request.op === OpV3.ForgetSnapshot) {
        await conn.send(
          encodeResponseV3({ status: StatusV3.NotFound, tag: request.tag, id: request.id }),
        );
      } else await conn.send(done(request));
    }
  });
  await using session = await connect(fake.port);
  await session.openSnapshot();
  const record = bytesOf('{"time":1}');
  const tree = sha(bytesOf("root"));
  const first = await session.commitSnapshot(record, tree);
  assert.deepEqual(first, { id: sha(record), committed: false, missing: [chunk.id] });
  await session.put(chunk);
  assert.deepEqual(await session.commitSnapshot(record, tree), {
    id: sha(record),
    committed: true,
    missing: [],
  });
  const sent = commits[0] as { id: Uint8Array; tree: Uint8Array; record: Uint8Array };
  assert.equal(sent.id.toHex(), sha(record));
  assert.equal(sent.tree.toHex(), tree);
  assert.deepEqual(sent.record, record);
  await assert.rejects(session.forgetSnapshot(sha(bytesOf("nothing"))), SnapshotNotFoundError);
});

Deno.test("sign-in: a server without version 3, a refused key, a store without snapshots", async () => {
  const v1Refusal = new Uint8Array([1, 0xeb, 0x03]);
  const refusal = (code: number, message: string) =>
    encodeHandshakeResponseV3({ status: StatusV3.Refused, code, message });
  const cases: [Parameters<typeof startFakeServerV3>[1], (error: unknown) => boolean][] = [
    [{ helloAnswer: v1Refusal }, (error) => error instanceof ProtocolV3UnsupportedError],
    [
      { authAnswer: refusal(RefusalCode.AuthFailed, "unknown key") },
      (error) =>
        error instanceof ServerRefusedError && error.signIn && /key of user 77/.test(error.message),
    ],
    [
      { helloAnswer: refusal(RefusalCode.BadRequest, "this store keeps no snapshots") },
      (error) => error instanceof ServerRefusedError && /keeps no snapshots/.test(error.message),
    ],
  ];
  for (const [options, expected] of cases) {
    await using fake = startFakeServerV3(drain, options);
    await assert.rejects(connect(fake.port), (error) => {
      assert.ok(expected(error), String(error));
      return true;
    });
  }
});

Deno.test("the silence is counted from the last sign of life, and not at all when nothing is owed", () => {
  const timers = new ManualTimers();
  let silent = 0;
  const timer = new SilenceTimer(timers, 5000, () => silent++);
  timer.restart(true);
  timers.nowMs += 4000;
  timer.restart(true); // bytes moved 4 s in: one timer still, its count restarted
  assert.equal(timers.live.size, 1);
  timers.fire(1000); // 5 s after the start, 1 s after the sign of life: waits out the rest
  assert.equal(silent, 0);
  assert.equal(timers.live.size, 1);
  timers.fire(4000);
  assert.equal(silent, 1);
  timer.restart(false);
  assert.equal(timers.live.size, 0);
});

Deno.test("a server that accepts and never answers the Hello is given up at the timeout", async () => {
  const timers = new ManualTimers();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const hello = Promise.withResolvers<void>();
  const serving = (async () => {
    for await (const conn of listener) {
      held.push(conn);
      await conn.read(new Uint8Array(64));
      hello.resolve();
    }
  })();
  try {
    const connecting = connect((listener.addr as Deno.NetAddr).port, { timeoutMs: 5000, timers });
    await hello.promise;
    assert.equal(timers.live.size, 1);
    timers.fire();
    await assert.rejects(connecting, AnswerTimeoutError);
  } finally {
    listener.close();
    await serving;
    for (const conn of held) conn.close();
  }
});

// End to end: the real server (tests/_helpers.ts) over TLS with an account, its embedded store.

Deno.test("against the real server: put, missing, a commit answered 234 then 233, list, get, forget", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  const options = {
    port: t.port,
    hostname: "127.0.0.1",
    tls: true,
    caCerts: [CA],
    userId: 77,
    timeoutMs: 20_000,
  };
  await using session = await SessionV3.connect({ ...options, key: alice });
  await session.openSnapshot();
  const text = dataBlob("a chunk that compresses well ".repeat(500));
  const noise = new Uint8Array(randomBytes(300_000));
  const random = { id: sha(noise), kind: "data" as const, raw: noise };
  const meta = {
    mode: 0o644,
    mtimeMs: 1e12,
    atimeMs: 1e12,
    uid: 0,
    gid: 0,
    inode: 1,
    device: 1,
    links: 1,
  };
  const tree = encodeTree({
    entries: [{
      ...meta,
      name: "f",
      type: "file",
      size: text.raw.length + noise.length,
      content: [text.id, random.id],
    }],
  });
  const root = { id: sha(tree), kind: "tree" as const, raw: tree, refs: [text.id, random.id] };
  assert.deepEqual(await session.missing([text.id, random.id, root.id]), [true, true, true]);
  await Promise.all([session.put(text), session.put(root)]);
  const record = encodeSnapshot({
    timeMs: Date.UTC(2026, 11, 6),
    tree: root.id,
    paths: ["/f"],
    host: "test-host",
    user: "alice",
    tags: [],
    summary: {
      files: 1,
      dirs: 0,
      bytes: 0,
      filesNew: 1,
      filesChanged: 0,
      filesUnmodified: 0,
      bytesAdded: 0,
    },
  });
  const first = await session.commitSnapshot(record, root.id);
  assert.deepEqual(first, { id: sha(record), committed: false, missing: [random.id] });
  assert.deepEqual(await Array.fromAsync(session.listSnapshots()), [], "nothing committed");
  await session.put(random);
  assert.deepEqual(await session.commitSnapshot(record, root.id), {
    id: sha(record),
    committed: true,
    missing: [],
  });
  const listed = await Array.fromAsync(session.listSnapshots());
  assert.deepEqual(listed.map((s) => [s.id, s.record]), [[sha(record), record]]);
  assert.deepEqual(await session.get(text.id, "data"), text.raw);
  assert.deepEqual(await session.get(random.id, "data"), noise);
  assert.deepEqual(await session.get(root.id, "tree"), tree);
  await assert.rejects(session.get(sha(bytesOf("never sent")), "data"), BlobUnavailableError);

  // A second session sees every blob; forgetting the snapshot empties the list.
  await using other = await SessionV3.connect({ ...options, key: alice });
  assert.deepEqual(await other.missing([text.id, random.id, root.id, sha(bytesOf("x"))]), [
    false,
    false,
    false,
    true,
  ]);
  await other.forgetSnapshot(sha(record));
  assert.deepEqual(await Array.fromAsync(other.listSnapshots()), []);
  await assert.rejects(other.forgetSnapshot(sha(record)), SnapshotNotFoundError);
  // Plain TCP to the TLS port: told so, not "version 21".
  await assert.rejects(
    SessionV3.connect({ ...options, tls: false, key: alice }),
    ServerSpeaksTlsError,
  );
});

Deno.test("against the real server: a folder archived through the session and restored from it comes back whole", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }]);
  const dir = await Deno.makeTempDir({ prefix: "client-v3-" });
  try {
    const source = `${dir}/src`;
    await Deno.mkdir(`${source}/sub`, { recursive: true });
    const big = new Uint8Array(randomBytes(3 * 1024 * 1024));
    await Deno.writeFile(`${source}/big.bin`, big);
    for (let i = 0; i < 200; i++) {
      await Deno.writeTextFile(`${source}/sub/${i}.txt`, `file ${i}\n`.repeat(i));
    }
    await using session = await SessionV3.connect({
      port: t.port,
      hostname: "127.0.0.1",
      tls: true,
      caCerts: [CA],
      userId: 77,
      key: alice,
      timeoutMs: 20_000,
    });
    await session.openSnapshot();
    const result = await archive([source], { scan: false, ownerNames: false }, session);
    const record = encodeSnapshot({
      timeMs: Date.now(),
      tree: result.tree,
      paths: [source],
      host: "test-host",
      user: "alice",
      tags: [],
      summary: result.summary,
    });
    assert.equal((await session.commitSnapshot(record, result.tree)).committed, true);
    const [listed] = await Array.fromAsync(session.listSnapshots());
    const target = `${dir}/target`;
    await restore(session, decodeSnapshot(listed.record).tree, { target, asRoot: false });
    assert.deepEqual(await Deno.readFile(`${target}${source}/big.bin`), big);
    for (const i of [0, 1, 199]) {
      assert.equal(
        await Deno.readTextFile(`${target}${source}/sub/${i}.txt`),
        `file ${i}\n`.repeat(i),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
