/**
 * The server measured through the real protocol: a server process on 127.0.0.1, driven by the project's
 * client library (and its CLI) from this process.
 *
 * @module
 */
import { BackupClient } from "../client/backup_client.ts";
import { type ByteSink, bytesSource } from "../io/byte_stream.ts";
import { syntheticSource } from "../harness/bytes.ts";
import { DENO_SERVER_ARGS, processMemory, startServerProcess } from "../harness/server_process.ts";
import { DatabaseSync } from "node:sqlite";
import { writeAll } from "../io/byte_stream.ts";
import { encodeRequestHeader, Op } from "../protocol/mod.ts";
import { INDEX_FILE_NAME } from "../storage/embedded/engine.ts";
import { VersionIndex } from "../storage/embedded/version_index.ts";
import { CLIENT_RUN_ARGS } from "./processes.ts";
import { bestOfThree, runFor, type RunResult, type Throughput, timeThroughput } from "./timing.ts";

export const discard: ByteSink = { write: (bytes) => Promise.resolve(bytes.length) };

/** A server on a fresh root inside `dir`, stopped and removed on dispose. */
export async function freshServer(dir: string, extraFlags: string[] = [], readable: string[] = []) {
  const root = await Deno.makeTempDir({ dir, prefix: "root-" });
  const server = await startServerProcess(root, [...DENO_SERVER_ARGS, ...extraFlags], readable);
  return {
    ...server,
    root,
    async [Symbol.asyncDispose]() {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** Large file through the library: backup then retrieve; also the server's peak RSS meanwhile. */
export async function largeFile(dir: string, size: number): Promise<{
  backup: Throughput;
  retrieve: Throughput;
  serverPeakRss: number | undefined;
}> {
  await using server = await freshServer(dir);
  using client = await BackupClient.connect({ userId: 1, port: server.port });
  // Best of three, as the limits are measured: the same method on both sides of each ratio, and a
  // new file each time, as the raw limits write. Random bytes, other ones each run: the server
  // deduplicates and compresses, so repeated or constant bytes would measure nothing.
  const contents = [randomContent(size), randomContent(size), randomContent(size)];
  let run = 0;
  const backup = await bestOfThree(() => {
    const content = contents[run++];
    return timeThroughput(
      size,
      () => client.backup(`large-${run}.bin`, bytesSource(content), size),
    );
  });
  const serverPeakRss = (await processMemory(server.pid))?.peak;
  const retrieve = await bestOfThree(() =>
    timeThroughput(size, async () => {
      await client.retrieve(`large-${run}.bin`, discard);
    })
  );
  return { backup, retrieve, serverPeakRss };
}

/** Large file through the client CLI, from and to a real file. */
export async function largeFileCli(dir: string, size: number): Promise<{
  backup: Throughput;
  restore: Throughput;
  /** The fastest of three `client.ts --help` runs: the fixed cost inside every CLI figure. */
  startupMs: number;
}> {
  await using server = await freshServer(dir);
  const restored = `${dir}/cli-restored.bin`;
  // Random bytes, another file for each run (see `largeFile`).
  const locals = [1, 2, 3].map((n) => `${dir}/cli-large-${n}.bin`);
  for (const path of locals) await Deno.writeFile(path, randomContent(size));
  const cli = async (...args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...CLIENT_RUN_ARGS,
        `--server=127.0.0.1:${server.port}`,
        "--user=1",
        "--quiet",
        ...args,
      ],
      stdin: "null",
    }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  };
  try {
    let run = 0;
    const backup = await bestOfThree(() =>
      timeThroughput(size, () => cli("backup", locals[run], "--as", `cli-${++run}.bin`))
    );
    const restore = await bestOfThree(async () => {
      // A new file each time, as the raw limits write: replacing a large file costs its removal.
      await Deno.remove(restored).catch(() => {});
      return await timeThroughput(size, () => cli("restore", `cli-${run}.bin`, "-o", restored));
    });
    const startup = await bestOfThree(() => timeThroughput(0, () => cli("--help")));
    return { backup, restore, startupMs: startup.ms };
  } finally {
    for (const path of [...locals, restored]) await Deno.remove(path).catch(() => {});
  }
}

/** Result of a small-file run. */
export interface SmallFileResult extends RunResult {
  perSecond: number;
}

/**
 * 4 KiB backups (or retrieves of stored 4 KiB files) on `concurrency` clients for `seconds`, over one
 * connection per client or one connection per request.
 */
export async function smallFiles(
  dir: string,
  options: {
    op: "backup" | "retrieve";
    concurrency: number;
    seconds: number;
    connectionPerRequest: boolean;
  },
): Promise<SmallFileResult> {
  await using server = await freshServer(dir);
  const content = new Uint8Array(4096).fill(3);
  const clients = await Promise.all(
    Array.from(
      { length: options.concurrency },
      (_, i) => BackupClient.connect({ userId: 100 + i, port: server.port }),
    ),
  );
  try {
    if (options.op === "retrieve") {
      await Promise.all(clients.map(async (client) => {
        for (let n = 0; n < 20; n++) {
          await client.backup(`f${n}`, syntheticSource(content.length), content.length);
          await client.retrieve(`f${n}`, discard);
        }
      }));
    }
    const result = await runFor(options.seconds, options.concurrency, async (worker, n) => {
      const client = options.connectionPerRequest
        ? await BackupClient.connect({ userId: 100 + worker, port: server.port })
        : clients[worker];
      try {
        if (options.op === "backup") {
          await client.backup(`f${n % 20}`, syntheticSource(content.length), content.length);
        } else {
          await client.retrieve(`f${n % 20}`, discard);
        }
      } finally {
        if (options.connectionPerRequest) client.close();
      }
    });
    return { ...result, perSecond: result.count / (result.elapsedMs / 1000) };
  } finally {
    for (const client of clients) client.close();
  }
}

/** The server's memory with `count` idle connections open. */
export async function idleConnections(
  dir: string,
  count: number,
): Promise<{ rss: number; peak: number } | undefined> {
  await using server = await freshServer(dir);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < count; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    // A list request on the last one proves the server has accepted all before it.
    using probe = await BackupClient.connect({ userId: 1, port: server.port });
    await probe.list();
    return await processMemory(server.pid);
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** `clients` clients each uploading `size` bytes at once: aggregate rate and fairness. */
export async function concurrentUploads(dir: string, clients: number, size: number): Promise<{
  aggregateMibPerSecond: number;
  fairness: number;
}> {
  await using server = await freshServer(dir);
  const connections = await Promise.all(
    Array.from(
      { length: clients },
      (_, i) => BackupClient.connect({ userId: i, port: server.port }),
    ),
  );
  try {
    const started = performance.now();
    const durations = await Promise.all(connections.map(async (client) => {
      const begun = performance.now();
      await client.backup("big.bin", syntheticSource(size), size);
      return performance.now() - begun;
    }));
    const elapsed = performance.now() - started;
    return {
      aggregateMibPerSecond: (clients * size) / 2 ** 20 / (elapsed / 1000),
      fairness: Math.min(...durations) / Math.max(...durations),
    };
  } finally {
    for (const client of connections) client.close();
  }
}

/**
 * A list of `count` names for one user, written straight into a fresh root's index before the
 * server starts: the time to the first and the last byte of the answer, read raw.
 */
export async function largeList(dir: string, count: number): Promise<{
  bytes: number;
  firstByteMs: number;
  lastByteMs: number;
}> {
  const root = await Deno.makeTempDir({ dir, prefix: "root-list-" });
  try {
    fillIndex(`${root}/${INDEX_FILE_NAME}`, 5, count);
    const server = await startServerProcess(root, DENO_SERVER_ARGS);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        const started = performance.now();
        await writeAll(conn, encodeRequestHeader({ userId: 5, op: Op.List }));
        const buffer = new Uint8Array(1024 * 1024);
        const headSize = 41; // version, status, name length, the 32-byte list name, payload size
        let firstByteMs = 0;
        let received = 0;
        let expected = Infinity;
        while (received < expected) {
          const got = await conn.read(buffer.subarray(received < headSize ? received : 0));
          if (got === null) throw new Error("the server closed during the list");
          if (received === 0) firstByteMs = performance.now() - started;
          received += got;
          if (expected === Infinity && received >= headSize) {
            expected = headSize + new DataView(buffer.buffer).getUint32(37, true);
          }
        }
        return { bytes: expected - headSize, firstByteMs, lastByteMs: performance.now() - started };
      } finally {
        conn.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Writes `count` current names (empty files) for `userId` into a new index at `path`. */
function fillIndex(path: string, userId: number, count: number): void {
  new VersionIndex(path, { keepDays: 30 }).close(); // the schema
  const db = new DatabaseSync(path);
  try {
    const insert = db.prepare(
      `INSERT INTO versions (user_id, name, current, size, mtime_ms, sha256, stored_ms, content)
       VALUES (?, ?, 1, 0, 0, x'', 0, x'')`,
    );
    const encoder = new TextEncoder();
    db.exec("BEGIN");
    for (let i = 0; i < count; i++) {
      insert.run(userId, encoder.encode(`folder-${i % 997}/file-${String(i).padStart(7, "0")}`));
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/** `size` random bytes (they neither compress nor deduplicate). */
export function randomContent(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65_536)));
  }
  return bytes;
}
