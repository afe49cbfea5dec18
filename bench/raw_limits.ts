/**
 * The physical limits the server is compared with, measured in the same run: loopback TCP between
 * two Deno processes, streaming disk writes, per-file durable writes, and a bare request/reply ping-pong.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { writeAll } from "../io/byte_stream.ts";
import { syntheticSource } from "../harness/bytes.ts";
import { syncDirectory } from "../io/durability.ts";
import { writeToFile } from "./file_write.ts";
import { startPeer } from "./processes.ts";
import { runFor, type Throughput, timeThroughput } from "./timing.ts";

const CHUNK = 1024 * 1024;

/**
 * Sends `totalBytes` (whatever one reused 1 MiB buffer holds) into `conn`, 1 MiB per write; with
 * `sha256`, hashing each chunk first, as a version 2 client does.
 */
async function sendBytes(conn: Deno.Conn, totalBytes: number, sha256 = false): Promise<void> {
  const buffer = new Uint8Array(CHUNK);
  const hash = sha256 ? createHash("sha256") : undefined;
  for (let sent = 0; sent < totalBytes; sent += CHUNK) {
    const chunk = buffer.subarray(0, Math.min(CHUNK, totalBytes - sent));
    hash?.update(chunk);
    await writeAll(conn, chunk);
  }
  hash?.digest();
}

/** Bytes written into a socket whose other end (another Deno process) reads and drops them. */
export async function rawLoopback(totalBytes: number): Promise<Throughput> {
  await using peer = await startPeer("sink");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
  try {
    return await timeThroughput(totalBytes, () => sendBytes(conn, totalBytes));
  } finally {
    conn.close();
  }
}

/**
 * Bytes written over TLS into a socket whose other end (another Deno process) reads and drops
 * them, or with `sha256` hashes them first: the limit of a version 2 retrieve, whose client checks
 * the SHA-256 of what it receives.
 */
export async function rawTlsLoopback(
  totalBytes: number,
  tlsDir: string,
  sha256 = false,
): Promise<Throughput> {
  await using peer = await startPeer(sha256 ? "tls-sink-sha256" : "tls-sink", tlsDir);
  const caCerts = [Deno.readTextFileSync(`${tlsDir}/server-cert.pem`)];
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: peer.port, caCerts });
  try {
    await conn.handshake();
    return await timeThroughput(totalBytes, () => sendBytes(conn, totalBytes));
  } finally {
    conn.close();
  }
}

/**
 * Bytes hashed with SHA-256 and sent over TLS to another Deno process that hashes them too and
 * writes them durably to a new file in `dir`: the limit of a version 2 backup.
 */
export async function rawTlsLoopbackToFileSha256(
  dir: string,
  totalBytes: number,
  tlsDir: string,
): Promise<Throughput> {
  await using peer = await startPeer("tls-disk-sha256", dir, tlsDir);
  const caCerts = [Deno.readTextFileSync(`${tlsDir}/server-cert.pem`)];
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: peer.port, caCerts });
  const answer = new Uint8Array(1);
  try {
    await conn.handshake();
    const result = await timeThroughput(totalBytes, async () => {
      await sendBytes(conn, totalBytes, true);
      await conn.closeWrite();
      if ((await conn.read(answer)) !== 1) throw new Error("disk peer failed");
    });
    await conn.read(answer); // the peer removed its file
    return result;
  } finally {
    conn.close();
  }
}

/** New TLS connections per second (connect, handshake, close), 16 at a time, for `seconds`. */
export async function rawTlsConnects(tlsDir: string, seconds: number): Promise<number> {
  await using peer = await startPeer("tls-sink", tlsDir);
  const caCerts = [Deno.readTextFileSync(`${tlsDir}/server-cert.pem`)];
  const result = await runFor(seconds, 16, async () => {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: peer.port, caCerts });
    await conn.handshake();
    conn.close();
  });
  return result.count / (result.elapsedMs / 1000);
}

/** Bytes from memory streamed durably to a new file in `dir` (see `writeToFile`). */
export async function rawDiskWrite(dir: string, totalBytes: number): Promise<Throughput> {
  const path = `${dir}/raw-disk-write.bin`;
  try {
    return await timeThroughput(
      totalBytes,
      () => writeToFile(path, syntheticSource(totalBytes), true),
    );
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * Bytes sent over loopback to another Deno process that writes them to a new file in `dir` (the same
 * `writeToFile`), durably or not, hashing it with SHA-256 or not: the physical limit of an upload
 * (durable, hashed: the server's work) or of a restore to a file (not durable), with no protocol.
 */
export async function rawLoopbackToFile(
  dir: string,
  totalBytes: number,
  durable: boolean,
  sha256 = false,
): Promise<Throughput> {
  await using peer = await startPeer(sha256 ? "disk-sha256" : durable ? "disk" : "file", dir);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
  const answer = new Uint8Array(1);
  try {
    const result = await timeThroughput(totalBytes, async () => {
      await sendBytes(conn, totalBytes);
      await conn.closeWrite();
      if ((await conn.read(answer)) !== 1) throw new Error("disk peer failed");
    });
    await conn.read(answer); // the peer removed its file: the next measurement starts clean
    return result;
  } finally {
    conn.close();
  }
}

/**
 * Independent small files: write to a temp file, fdatasync, rename over one of 50 names per worker,
 * fsync the folder; with `concurrency` of them in flight, all in one folder or each worker in a
 * folder of its own (then no worker waits for another's folder fsync). Resolves files per second.
 * Without `durable`, only the write and the rename: what storing a file costs the file system before
 * any flush, the ceiling of any design that keeps one file per upload.
 */
export async function rawSmallFiles(
  dir: string,
  concurrency: number,
  seconds: number,
  options: { durable: boolean; folderPerWriter?: boolean; fileSize?: number },
): Promise<number> {
  const { durable, folderPerWriter = false, fileSize = 4096 } = options;
  const work = await Deno.makeTempDir({ dir, prefix: `raw-small-${concurrency}-` });
  const folders = Array.from(
    { length: concurrency },
    (_, worker) => folderPerWriter ? `${work}/w${worker}` : work,
  );
  for (const folder of new Set(folders)) await Deno.mkdir(folder, { recursive: true });
  const content = new Uint8Array(fileSize).fill(9);
  try {
    const { count, elapsedMs } = await runFor(seconds, concurrency, async (worker, n) => {
      const folder = folders[worker];
      const temp = `${folder}/tmp-${worker}-${n}`;
      using file = await Deno.open(temp, { write: true, createNew: true });
      await writeAll(file, content);
      if (durable) await file.syncData();
      await Deno.rename(temp, `${folder}/file-${worker}-${n % 50}`);
      if (durable) await syncDirectory(folder);
    });
    return count / (elapsedMs / 1000);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * 8-byte requests answered by another Deno process over `connections` connections, for `seconds`:
 * with 3 bytes (`pong`), or with a 4 KiB file it reads afresh per request (`read`, in `dir`).
 * Resolves answers per second.
 */
export async function rawPingPong(
  connections: number,
  seconds: number,
  answer: { mode: "pong" } | { mode: "read"; dir: string } = { mode: "pong" },
): Promise<number> {
  const replySize = answer.mode === "pong" ? 3 : 4096;
  await using peer = answer.mode === "read"
    ? await startPeer("read", answer.dir, String(replySize))
    : await startPeer("pong");
  const conns = await Promise.all(
    Array.from({ length: connections }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
      conn.setNoDelay(true);
      return conn;
    }),
  );
  const request = new Uint8Array(8);
  const replies = conns.map(() => new Uint8Array(replySize));
  try {
    const { count, elapsedMs } = await runFor(seconds, connections, async (worker) => {
      const conn = conns[worker];
      await writeAll(conn, request);
      let got = 0;
      while (got < replySize) {
        const read = await conn.read(replies[worker].subarray(got));
        if (read === null) throw new Error("ping-pong peer closed");
        got += read;
      }
    });
    return count / (elapsedMs / 1000);
  } finally {
    for (const conn of conns) conn.close();
  }
}
