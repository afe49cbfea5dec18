/**
 * The other process of the raw-limit measurements: `sink` reads and drops every byte of each
 * connection; `pong` answers every 8-byte request with 3 bytes; `disk DIR` writes each connection's
 * bytes to a new file in DIR, makes it durable, answers one byte, then removes the file and answers
 * another; `file DIR` does the same without making the file durable. Prints its port, then serves until killed. All use one reused buffer per connection, the
 * fastest way Deno reads a socket.
 *
 * @module
 */
import { writeToFile } from "./file_write.ts";

const [mode, dir] = Deno.args;
if (!(mode === "sink" || mode === "pong" || ((mode === "disk" || mode === "file") && dir))) {
  console.error("usage: peer.ts sink|pong|disk DIR|file DIR");
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

let files = 0;
async function toFile(conn: Deno.Conn, durable: boolean): Promise<void> {
  const path = `${dir}/pipeline-${files++}.bin`;
  await writeToFile(path, conn, durable);
  await conn.write(new Uint8Array([1]));
  await Deno.remove(path);
  await conn.write(new Uint8Array([2]));
}

for await (const conn of listener) {
  const serve = mode === "sink"
    ? sink(conn)
    : mode === "pong"
    ? pong(conn)
    : toFile(conn, mode === "disk");
  serve.catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // closed by the other side
    }
  });
}
