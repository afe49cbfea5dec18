/**
 * The other process of the raw-limit measurements: `sink` reads and drops every byte of each
 * connection; `pong` answers every 8-byte request with 3 bytes; `disk DIR` writes each connection's
 * bytes to a new file in DIR, makes it durable, answers one byte, then removes the file and answers
 * another; `disk-sha256 DIR` the same, hashing the bytes with SHA-256 as they pass, as the server
 * does; `file DIR` does the same without making the file durable; `read DIR SIZE` answers every
 * 8-byte request with a file of SIZE bytes it reads afresh each time, as the server does for a file
 * not in its read cache (lstat, open, fstat, read, close: the calls the server makes, synchronous as
 * it makes them); `tls-sink DIR` is `sink` over TLS with DIR's `server-cert.pem` and `server-key.pem`,
 * `tls-sink-sha256 DIR` the same hashing every byte; `tls-disk-sha256 DIR CERT_DIR` is
 * `disk-sha256` over TLS with CERT_DIR's certificate.
 * Prints its port, then serves until killed. All use one reused buffer per
 * connection, the fastest way Deno reads a socket.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { writeAll } from "../io/byte_stream.ts";
import { writeToFile } from "./file_write.ts";

const [mode, dir, size] = Deno.args;
const fileSize = Number(size);
const TLS_MODES = ["tls-sink", "tls-sink-sha256", "tls-disk-sha256"];
const usable = mode === "sink" || mode === "pong" || (TLS_MODES.includes(mode) && dir) ||
  (["disk", "disk-sha256", "file"].includes(mode) && dir) ||
  (mode === "read" && dir && Number.isSafeInteger(fileSize));
if (!usable) {
  console.error(
    "usage: peer.ts sink|pong|disk DIR|disk-sha256 DIR|file DIR|read DIR SIZE|tls-sink DIR|" +
      "tls-sink-sha256 DIR|tls-disk-sha256 DIR CERT_DIR",
  );
  Deno.exit(2);
}
const certDir = mode === "tls-disk-sha256" ? size : dir;
const listener = TLS_MODES.includes(mode)
  ? Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(`${certDir}/server-cert.pem`),
    key: Deno.readTextFileSync(`${certDir}/server-key.pem`),
  })
  : Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log((listener.addr as Deno.NetAddr).port);

const REQUEST = 8;
const REPLY = new Uint8Array([1, 2, 3]);
const SMALL_FILE = `${dir}/small-file.bin`;
if (mode === "read") Deno.writeFileSync(SMALL_FILE, new Uint8Array(fileSize).fill(4));

async function sink(conn: Deno.Conn, sha256 = false): Promise<void> {
  const buffer = new Uint8Array(1024 * 1024);
  const hash = sha256 ? createHash("sha256") : undefined;
  for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
    hash?.update(buffer.subarray(0, count));
  }
  hash?.digest();
}

/** The small file's bytes, read with the calls a server makes to send a stored file. */
function readSmallFile(): Uint8Array {
  if (!Deno.lstatSync(SMALL_FILE).isFile) throw new Error("not a file");
  using file = Deno.openSync(SMALL_FILE, { read: true });
  const reply = new Uint8Array(file.statSync().size);
  if (file.readSync(reply) !== reply.length) throw new Error("short read");
  return reply;
}

async function pong(conn: Deno.TcpConn, reply: () => Uint8Array): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(4096);
  let pending = 0;
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) return;
    pending += count;
    while (pending >= REQUEST) {
      pending -= REQUEST;
      await writeAll(conn, reply());
    }
  }
}

let files = 0;
async function toFile(conn: Deno.Conn, durable: boolean, sha256: boolean): Promise<void> {
  const path = `${dir}/pipeline-${files++}.bin`;
  await writeToFile(path, conn, durable, sha256);
  await conn.write(new Uint8Array([1]));
  await Deno.remove(path);
  await conn.write(new Uint8Array([2]));
}

for await (const conn of listener) {
  const serve = mode === "sink" || mode === "tls-sink" || mode === "tls-sink-sha256"
    ? sink(conn, mode === "tls-sink-sha256")
    : mode === "pong"
    ? pong(conn as Deno.TcpConn, () => REPLY)
    : mode === "read"
    ? pong(conn as Deno.TcpConn, readSmallFile)
    : toFile(conn, mode !== "file", mode.endsWith("disk-sha256"));
  serve.catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // closed by the other side
    }
  });
}
