/**
 * The other process of the raw-limit measurements: `sink` reads and drops every byte of each
 * connection; `pong` answers every 8-byte request with 3 bytes. Prints its port, then serves until
 * killed. Both use one reused buffer per connection, the fastest way Deno reads a socket.
 *
 * @module
 */
const mode = Deno.args[0];
if (mode !== "sink" && mode !== "pong") {
  console.error("usage: peer.ts sink|pong");
  Deno.exit(2);
}
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log((listener.addr as Deno.NetAddr).port);

const REQUEST = 8;
const REPLY = new Uint8Array([1, 2, 3]);

async function sink(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024 * 1024);
  while ((await conn.read(buffer)) !== null);
}

async function pong(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(4096);
  let pending = 0;
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) return;
    pending += count;
    while (pending >= REQUEST) {
      pending -= REQUEST;
      await conn.write(REPLY);
    }
  }
}

for await (const conn of listener) {
  (mode === "sink" ? sink(conn) : pong(conn)).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // closed by the other side
    }
  });
}
