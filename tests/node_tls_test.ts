/**
 * The TLS listener over `node:tls` (server/node_tls.ts): its connections behave as the server
 * expects of a `Deno.TlsConn`, and an answer spanning several TLS records leaves at once instead
 * of waiting for the client's delayed ACK (40 ms at least on Linux, per wait: N exchanges that
 * each wait take 40·N ms whatever the machine; the bound is half that).
 */
import assert from "node:assert/strict";
import { listenNodeTls, type NodeTlsListener } from "../server/node_tls.ts";
import { CA, OTHER_TLS, TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DELAYED_ACK_MS = 40;
const EXCHANGES = 20;

async function listen(): Promise<NodeTlsListener> {
  return await listenNodeTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(TLS.certFile),
    key: await Deno.readTextFile(TLS.keyFile),
  });
}

async function connect(port: number): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [CA] });
  await conn.handshake();
  return conn;
}

async function readExactly(conn: Deno.Conn, size: number, scratch: Uint8Array): Promise<void> {
  for (let got = 0; got < size;) {
    const count = await conn.read(scratch);
    if (count === null) throw new Error(`the stream ended after ${got} of ${size} bytes`);
    got += count;
  }
}

Deno.test("answers of 20,000 bytes (two TLS records) come without waiting for an ACK", async () => {
  using listener = await listen();
  const serving = (async () => {
    using conn = await listener.accept();
    await conn.handshake();
    const request = new Uint8Array(1);
    const answer = new Uint8Array(20_000).fill(9);
    while (await conn.read(request) !== null) {
      for (let sent = 0; sent < answer.length;) sent += await conn.write(answer.subarray(sent));
    }
  })();
  const conn = await connect(listener.addr.port);
  const scratch = new Uint8Array(64 * 1024);
  await conn.write(new Uint8Array(1));
  await readExactly(conn, 20_000, scratch); // a first one, whatever it costs
  const started = performance.now();
  for (let i = 0; i < EXCHANGES; i++) {
    await conn.write(new Uint8Array(1));
    await readExactly(conn, 20_000, scratch);
  }
  const elapsed = performance.now() - started;
  conn.close();
  await serving;
  assert.ok(
    elapsed < (EXCHANGES * DELAYED_ACK_MS) / 2,
    `${EXCHANGES} exchanges took ${elapsed.toFixed(0)} ms: answers waited for delayed ACKs`,
  );
});

Deno.test("bytes cross both ways intact, in order, and a client's close reads as the end", async () => {
  using listener = await listen();
  const size = 3 * 1024 * 1024 + 17;
  const serving = (async () => {
    using conn = await listener.accept();
    const scratch = new Uint8Array(100_000);
    let total = 0;
    let sum = 0;
    for (;;) {
      const count = await conn.read(scratch);
      if (count === null) break;
      for (let i = 0; i < count; i++) sum = (sum + scratch[i] * ((total + i) % 7 + 1)) % 65_521;
      total += count;
      if (total === size) {
        const reply = new Uint8Array(8);
        new DataView(reply.buffer).setUint32(0, total);
        new DataView(reply.buffer).setUint32(4, sum);
        await conn.write(reply);
      }
    }
    return total;
  })();
  const conn = await connect(listener.addr.port);
  const payload = new Uint8Array(size).map((_, i) => (i * 31) % 251);
  let expected = 0;
  for (let i = 0; i < size; i++) expected = (expected + payload[i] * (i % 7 + 1)) % 65_521;
  for (let sent = 0; sent < size;) sent += await conn.write(payload.subarray(sent, sent + 70_000));
  const reply = new Uint8Array(8);
  await readExactly(conn, 8, reply);
  assert.equal(new DataView(reply.buffer).getUint32(0), size);
  assert.equal(new DataView(reply.buffer).getUint32(4), expected);
  conn.close();
  assert.equal(await serving, size);
});

Deno.test("closing a connection during its handshake closes the socket", async () => {
  using listener = await listen();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await tcp.write(new Uint8Array([0x16, 0x03, 0x01])); // 3 bytes of a ClientHello, then nothing
  const conn = await listener.accept();
  const handshake = conn.handshake();
  conn.close();
  await assert.rejects(handshake);
  // The client sees the socket end (FIN or reset), not silence.
  const ended = await tcp.read(new Uint8Array(16)).then((count) => count === null, () => true);
  assert.ok(ended);
  tcp.close();
});

Deno.test("a closed listener ends its iteration and connections go on", async () => {
  const listener = await listen();
  const connecting = connect(listener.addr.port); // its handshake needs the server's accept
  const accepted = [];
  for await (const conn of listener) {
    accepted.push(conn);
    listener.close();
  }
  const client = await connecting;
  assert.equal(accepted.length, 1);
  await accepted[0].handshake();
  await accepted[0].write(new Uint8Array([5]));
  const byte = new Uint8Array(1);
  assert.equal(await client.read(byte), 1);
  assert.equal(byte[0], 5);
  client.close();
  assert.equal(await accepted[0].read(byte), null);
  accepted[0].close();
});

Deno.test("a client that leaves during the handshake fails it (the server does not wait)", async () => {
  using listener = await listen();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await tcp.write(new Uint8Array([0x16, 0x03, 0x01])); // 3 bytes of a ClientHello
  using conn = await listener.accept();
  tcp.close();
  await assert.rejects(conn.handshake(), Deno.errors.UnexpectedEof);
});

Deno.test("a client that does not speak TLS is answered with a TLS alert, then FIN", async () => {
  using listener = await listen();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await tcp.write(new Uint8Array([2, 0, 0, 0, 0, 10, 0, 0])); // a plain Hello
  using conn = await listener.accept();
  await assert.rejects(conn.handshake());
  const answer = new Uint8Array(16);
  const count = await tcp.read(answer);
  assert.deepEqual([...answer.subarray(0, 3)], [0x15, 0x03, 0x03], `got ${count} bytes`);
  tcp.close();
});

Deno.test("a new certificate applies to connections accepted after it; the port stays open", async () => {
  using listener = await listen();
  listener.setCertificate({
    cert: await Deno.readTextFile(OTHER_TLS.certFile),
    key: await Deno.readTextFile(OTHER_TLS.keyFile),
  });
  const accepting = listener.accept();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using conn = await accepting;
  const serving = conn.handshake().catch(() => {});
  const client = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [CA] });
  await assert.rejects(client.handshake(), /UnknownIssuer|certificate/i); // not the old one
  client.close();
  await serving;
});
