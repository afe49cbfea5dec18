/**
 * Connection slots cannot be held by sockets that never sign in: with accounts, a connection has
 * the frame timeout from its accept to finish TLS, Hello and Auth (or a v1 client's first request),
 * and one address may hold only `maxConnectionsPerAddress` connections.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { parseServerArgs } from "../cli/server_flags.ts";
import { UsageError } from "../cli/flags.ts";
import { eventually, RawClient, startTestServer, toHex } from "./_helpers.ts";
import { makeKey, RawSession, startV2Server } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const closes = (t: { logs: string[] }, reason: string) =>
  t.logs.map((line) => JSON.parse(line)).filter((line) => line.reason === reason).length;

Deno.test("with accounts, sockets that never sign in lose their slots after the frame timeout", async () => {
  const alice = await makeKey();
  // The idle timeout is a minute: on the old server the silent sockets held every slot that long.
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    limits: { maxConnections: 3, frameTimeoutMs: 300, idleTimeoutMs: 60_000 },
  });
  const silent = await Promise.all([1, 2, 3].map(() => RawSession.connect(t.port)));
  try {
    await eventually(() => Promise.resolve(t.server.connectionCount === 3), "three slots taken");
    const started = performance.now();
    for (const socket of silent) assert.equal(await socket.read(), null, "closed by the server");
    assert.ok(performance.now() - started < 10_000, "closed within the frame timeout, not idle");
    await eventually(() => Promise.resolve(t.server.connectionCount === 0), "the slots freed");
    assert.equal(closes(t, "handshake timeout"), 3);
    using client = await t.connect(77, alice);
    assert.deepEqual(await client.list(), []);
  } finally {
    for (const socket of silent) socket[Symbol.dispose]();
  }
});

Deno.test("with accounts, a signed-in session and a v1 client after its first request keep the idle timeout", async () => {
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    access: { allowV1: true },
    plainListen: { hostname: "127.0.0.1", port: 0 },
    limits: { frameTimeoutMs: 300, idleTimeoutMs: 60_000 },
  });
  using client = await t.connect(77, alice);
  assert.deepEqual(await client.list(), []);
  using legacy = await RawClient.connect(t.server.plainAddr!.port);
  await legacy.send(encodeRequestHeader({ userId: 5, op: Op.List }));
  assert.equal((await legacy.readResponse()).header.status, Status.NoFiles);
  // A socket accepted after both that never signs in: once it is closed, both are past the frame
  // timeout, counted from their accepts.
  using silent = await RawSession.connect(t.port);
  assert.equal(await silent.read(), null);
  assert.deepEqual(await client.list(), [], "the v2 session is still open");
  await legacy.send(encodeRequestHeader({ userId: 5, op: Op.List }));
  assert.equal((await legacy.readResponse()).header.status, Status.NoFiles, "v1 still open");
  assert.equal(closes(t, "handshake timeout"), 1);
});

Deno.test("past --max-connections-per-address, one address's new connections get 1003 at once", async () => {
  await using t = await startTestServer({
    limits: { maxConnections: 100, maxConnectionsPerAddress: 3 },
  });
  const held = await Promise.all([1, 2, 3].map(() => RawClient.connect(t.port)));
  try {
    await eventually(() => Promise.resolve(t.server.connectionCount === 3), "three connections");
    using refused = await RawClient.connect(t.port);
    await refused.send(encodeRequestHeader({ userId: 1, op: Op.List }));
    assert.equal(toHex((await refused.readResponse()).raw), "01eb03");
    assert.ok(await refused.isClosedByServer());
    const line = t.logs.map((text) => JSON.parse(text)).find((entry) =>
      entry.msg === "connection refused: too many connections from this address"
    );
    assert.ok(line, "the refusal is logged");
    held.pop()![Symbol.dispose]();
    await eventually(() => Promise.resolve(t.server.connectionCount === 2), "a slot to free up");
    using later = await RawClient.connect(t.port);
    await later.send(encodeRequestHeader({ userId: 1, op: Op.List }));
    assert.equal((await later.readResponse()).header.status, Status.NoFiles);
  } finally {
    for (const client of held) client[Symbol.dispose]();
  }
});

Deno.test("the default per-address cap lets 64 clients from one address work at once", async () => {
  await using t = await startTestServer();
  const clients = await Promise.all(
    Array.from({ length: 64 }, () => BackupClient.connect({ userId: 1, port: t.port })),
  );
  try {
    const lists = await Promise.all(clients.map((client) => client.list()));
    assert.deepEqual(lists.flat(), []);
  } finally {
    for (const client of clients) client.close();
  }
});

Deno.test("--max-connections-per-address and --plain-allow-accounts on the command line", () => {
  const files = { readPortFile: () => undefined, readConfigFile: () => "{}" };
  const parsed = parseServerArgs(["--max-connections-per-address", "0"], files);
  assert.ok(typeof parsed === "object");
  assert.equal(parsed.limits.maxConnectionsPerAddress, 0);
  const defaults = parseServerArgs([], files);
  assert.ok(typeof defaults === "object");
  assert.equal(defaults.limits.maxConnectionsPerAddress, 128);
  assert.equal(defaults.plainAllowAccounts, false);
  assert.throws(
    () => parseServerArgs(["--plain-allow-accounts"], files),
    (error) => error instanceof UsageError && /goes with --plain-listen/.test(error.message),
  );
  const allowed = parseServerArgs([
    "--tls-cert=c",
    "--tls-key=k",
    "--plain-listen=127.0.0.1:9",
    "--plain-allow-accounts",
  ], files);
  assert.ok(typeof allowed === "object");
  assert.equal(allowed.plainAllowAccounts, true);
});
