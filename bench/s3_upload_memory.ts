/**
 * What an S3 upload holds, two ways (under `bash tools/s3_engine.sh run -- deno run -A ...`, or
 * with the `S3_TEST_*` variables of an engine already running):
 *
 * - `bench/s3_upload_memory.ts [PUTS_IN_FLIGHT] [PACK_MIB] [off]`: the peak RSS of one process
 *   storing 1 GiB of random bytes through the S3 backend (no network but the store's, no client),
 *   with chunks in packs (`off`: whole files, multipart), and its speed. The bytes come in one
 *   reused buffer, as the server's connection hands them (a new buffer per write would measure the
 *   collector: 60 MiB more).
 * - `bench/s3_upload_memory.ts server [ROUNDS] [CHECKOUT...]`: the real server process
 *   (`server.ts --storage s3` of each checkout, default this one) taking three 1 GiB backups in a
 *   row from a client, as `deno task bench --storage s3` does: its peak RSS (VmHWM) and speeds,
 *   then a retrieve of the first.
 *   Checkouts take turns, ROUNDS (3) each, and the medians are printed: an A/B in one run.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { S3Storage } from "../storage/s3/engine.ts";
import { freshPrefix, testLocation } from "../harness/s3_location.ts";
import { BackupClient } from "../client/backup_client.ts";
import type { ByteSource } from "../io/byte_stream.ts";
import { discard } from "./workloads.ts";
import { S3Client } from "../objects/s3/s3_client.ts";

const MiB = 2 ** 20;
const SIZE = 1024 * MiB;
const BACKUPS = 3;

if (Deno.args[0] === "server") await servers(Deno.args.slice(1));
else await inProcess(Deno.args);

async function inProcess(args: string[]): Promise<void> {
  const putsInFlight = Number(args[0] ?? 3);
  const packBytes = Number(args[1] ?? 8) * MiB;
  const chunkFiles = args[2] !== "off";
  const prefix = freshPrefix();
  const { storage } = await S3Storage.open({
    location: testLocation(),
    prefix,
    serverTag: "s3-upload-memory",
    pruneIntervalMs: 0,
    chunkFiles,
    packPutsInFlight: putsInFlight,
    packTargetBytes: packBytes,
  });
  const idle = Deno.memoryUsage().rss;
  let peak = 0;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
  const piece = new Uint8Array(MiB);
  const started = performance.now();
  const upload = await storage.beginUpload(1, "big", { size: SIZE });
  for (let at = 0; at < SIZE; at += piece.length) {
    // In place: a new buffer per MiB here would be this process's garbage, and measured with it.
    for (let i = 0; i < piece.length; i += 65536) {
      crypto.getRandomValues(piece.subarray(i, i + 65536));
    }
    await upload.write(piece); // storage copies: the buffer is the caller's again once this resolves
  }
  await upload.commit();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  console.log(
    `${
      chunkFiles
        ? `chunks, ${putsInFlight} PUTs in flight, packs of ${packBytes / MiB} MiB`
        : "whole file"
    }: ` +
      `RSS idle ${(idle / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, ` +
      `${(1024 / seconds).toFixed(0)} MiB/s`,
  );
  await storage.close();
  await deleteAll(prefix);
}

async function servers(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 3);
  const here = new URL("..", import.meta.url).pathname;
  const checkouts = args.length > 1 ? args.slice(1) : [here];
  const results = new Map<string, { peak: number; speed: number; retrieve: number }[]>();
  for (let round = 0; round < rounds; round++) {
    for (const checkout of checkouts) {
      const result = await serverRun(checkout);
      console.log(
        `${checkout}: peak RSS ${result.peak.toFixed(1)} MiB, backups ` +
          `${result.speeds.map((speed) => speed.toFixed(0)).join(", ")} MiB/s, retrieve ` +
          `${result.retrieve.toFixed(0)} MiB/s`,
      );
      const speed = median(result.speeds);
      const run = { peak: result.peak, speed, retrieve: result.retrieve };
      results.set(checkout, [...results.get(checkout) ?? [], run]);
    }
  }
  for (const [checkout, runs] of results) {
    console.log(
      `median of ${runs.length}, ${checkout}: peak RSS ` +
        `${median(runs.map((run) => run.peak)).toFixed(1)} MiB, backup ` +
        `${median(runs.map((run) => run.speed)).toFixed(0)} MiB/s, retrieve ` +
        `${median(runs.map((run) => run.retrieve)).toFixed(0)} MiB/s`,
    );
  }
}

/**
 * Three 1 GiB backups through the server of `checkout`, then a retrieve of the first: the server's
 * peak RSS during the backups in MiB, and the speeds.
 */
async function serverRun(
  checkout: string,
): Promise<{ peak: number; speeds: number[]; retrieve: number }> {
  const root = checkout.endsWith("/") ? checkout : `${checkout}/`;
  const { startS3Server } = await import(`${root}harness/s3_cluster.ts`);
  const { processMemory } = await import(`${root}harness/server_process.ts`);
  const prefix = freshPrefix();
  const server = await startS3Server(prefix);
  try {
    using client = await BackupClient.connect({ userId: 1, port: server.port });
    const speeds: number[] = [];
    for (let run = 0; run < BACKUPS; run++) {
      const started = performance.now();
      await client.backup(`large-${run}`, randomSource(), SIZE);
      speeds.push(SIZE / MiB / ((performance.now() - started) / 1000));
    }
    const memory = await processMemory(server.pid);
    const started = performance.now();
    await client.retrieve("large-0", discard);
    const retrieve = SIZE / MiB / ((performance.now() - started) / 1000);
    return { peak: (memory?.peak ?? NaN) / MiB, speeds, retrieve };
  } finally {
    await server.stop();
    await deleteAll(prefix);
  }
}

/** Deletes every object under `prefix`: gigabytes per run would fill the store's disk. */
async function deleteAll(prefix: string): Promise<void> {
  const client = new S3Client(testLocation());
  for await (const page of client.list(prefix)) {
    for (let i = 0; i < page.length; i += 8) {
      await Promise.all(page.slice(i, i + 8).map((object) => client.delete(object.key)));
    }
  }
}

/**
 * 1 GiB of random bytes for a client, other ones each time (the backend deduplicates), made as they
 * are read (AES-CTR of zeros: faster than the upload, and no gigabyte held by the bench; its
 * garbage is the client's, not the measured server's).
 */
function randomSource(): ByteSource {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const cipher = createCipheriv("aes-128-ctr", key, new Uint8Array(16));
  const zeros = new Uint8Array(MiB);
  let left = SIZE;
  let pending = new Uint8Array(0);
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (pending.length === 0) {
        if (left === 0) return Promise.resolve(null);
        const count = Math.min(MiB, left);
        pending = new Uint8Array(cipher.update(zeros.subarray(0, count)));
        left -= count;
      }
      const count = Math.min(buffer.length, pending.length);
      buffer.set(pending.subarray(0, count));
      pending = pending.subarray(count);
      return Promise.resolve(count);
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
