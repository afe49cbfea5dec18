/**
 * `deno run -A bench/s3_chunked.ts [--size MiB] [--rounds N]`: the S3 backend's large-file path
 * with chunking on (`--s3-chunk-files`: chunks in packs, deduplicated) against off (one multipart
 * data object) and the store's raw multipart PUT and GET, in the same run, interleaved round by
 * round, medians reported. Every backup sends bytes no earlier round sent (one byte in every
 * 64 KiB changed), so chunking finds nothing to deduplicate: this is the cost of a first backup.
 * Starts its own Swift engine unless `S3_TEST_ENDPOINT` is set.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { processMemory } from "../harness/server_process.ts";
import { startS3Server } from "../harness/s3_cluster.ts";
import { freshPrefix, testLocation, useEngine } from "../harness/s3_location.ts";
import { S3Client } from "../objects/s3/s3_client.ts";
import { DEFAULT_PART_SIZE, DEFAULT_PARTS_IN_FLIGHT } from "../storage/s3/options.ts";
import { discard } from "./workloads.ts";

const MiB = 2 ** 20;
const { values } = parseArgs({
  args: Deno.args,
  options: { size: { type: "string", default: "1024" }, rounds: { type: "string", default: "3" } },
});
const size = Number(values.size) * MiB;
const rounds = Number(values.rounds);

await using _engine = await useEngine();
const store = new S3Client(testLocation());
await store.ensureBucket();
const bytes = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));

const off = await startS3Server(freshPrefix());
const on = await startS3Server(freshPrefix(), { extraArgs: ["--s3-chunk-files"] });
const rawPrefix = freshPrefix();
const times: Record<string, number[]> = {};
/** Each server's peak RSS after the first round's backups (before any retrieve). */
const backupPeak: Record<string, number | undefined> = {};
const time = async (what: string, run: () => Promise<unknown>) => {
  const started = performance.now();
  await run();
  (times[what] ??= []).push((performance.now() - started) / 1000);
};
try {
  for (let round = 1; round <= rounds; round++) {
    for (let at = 0; at < size; at += 65536) bytes[at] ^= round; // new bytes, every chunk
    await time("raw multipart PUT", () => multipartPut(store, `${rawPrefix}large`, bytes));
    for (const [mode, server] of [["off", off], ["on", on]] as const) {
      using client = await BackupClient.connect({ userId: 1, port: server.port });
      await time(
        `backup, chunking ${mode}`,
        () => client.backup(`f${round}`, bytesSource(bytes), size),
      );
    }
    if (round === 1) {
      for (const [mode, server] of [["off", off], ["on", on]] as const) {
        backupPeak[mode] = (await processMemory(server.pid))?.peak;
      }
    }
    await time("raw GET", () => getAll(store, `${rawPrefix}large`));
    for (const [mode, server] of [["off", off], ["on", on]] as const) {
      using client = await BackupClient.connect({ userId: 1, port: server.port });
      await time(`retrieve, chunking ${mode}`, () => client.retrieve(`f${round}`, discard));
    }
    console.error(`round ${round} done`);
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  console.log(`${size / MiB} MiB, ${rounds} rounds, medians (MiB/s; every run's seconds):`);
  for (const [what, list] of Object.entries(times)) {
    console.log(
      `  ${what.padEnd(26)} ${(size / MiB / median(list)).toFixed(1).padStart(7)} MiB/s  ` +
        `(${list.map((s) => s.toFixed(2)).join(", ")} s)`,
    );
  }
  for (const [mode, server] of [["off", off], ["on", on]] as const) {
    const peak = (await processMemory(server.pid))?.peak;
    const mib = (bytes?: number) => bytes ? (bytes / MiB).toFixed(0) : "n/a";
    console.log(
      `  server peak RSS, chunking ${mode}: ${mib(backupPeak[mode])} MiB after the first ` +
        `backup, ${mib(peak)} MiB after all`,
    );
  }
} finally {
  await Promise.all([off.stop(), on.stop()]);
}

/** A multipart upload of `body`, parts as the server's data objects go. */
async function multipartPut(client: S3Client, key: string, body: Uint8Array): Promise<void> {
  const id = await client.startMultipart(key);
  const etags: Promise<string>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  for (let offset = 0, part = 1; offset < body.length; offset += DEFAULT_PART_SIZE, part++) {
    const etag = client.uploadPart(
      key,
      id,
      part,
      body.subarray(offset, offset + DEFAULT_PART_SIZE),
    );
    etags.push(etag);
    const done = etag.finally(() => inFlight.delete(done));
    inFlight.add(done);
    while (inFlight.size >= DEFAULT_PARTS_IN_FLIGHT) await Promise.race(inFlight);
  }
  await client.completeMultipart(key, id, await Promise.all(etags));
}

async function getAll(client: S3Client, key: string): Promise<void> {
  const response = await client.get(key);
  for await (const _ of response.body ?? []) {
    // read and dropped, as a retrieve's client drops what it gets
  }
}
