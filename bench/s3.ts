/**
 * `deno task bench --storage s3`: the S3 backend next to the object store's own limit, measured in
 * the same run with the same S3 client and no protocol (a multipart PUT and ranged GETs of the same
 * size, parts and runs as the server sends and reads them; 4 KiB PUTs and GETs as many at once as the clients). 4 KiB
 * backups are measured twice: replacing files the clients stored before the run (as an incremental
 * backup of changed files does; the raw PUTs overwrite keys too), and under new names; and as
 * snapshots (protocol v3, accounts with keys, the archiver library: `s3_snapshots.ts`), where a run
 * of many files is a few PUTs, against the same raw 4 KiB PUT rate.
 *
 * @module
 */
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { processMemory } from "../harness/server_process.ts";
import { startS3Server } from "../harness/s3_cluster.ts";
import { freshPrefix, testLocation, useEngine } from "../harness/s3_location.ts";
import { S3Client } from "../objects/s3/s3_client.ts";
import { DEFAULT_PART_SIZE, DEFAULT_PARTS_IN_FLIGHT } from "../storage/s3/options.ts";
import { MAX_RUN_BYTES, RUNS_IN_FLIGHT } from "../storage/s3/chunked_read.ts";
import { mib, perSecond, ratio, type Row } from "./report.ts";
import {
  bestOfThree,
  percentile,
  runFor,
  type RunResult,
  type Throughput,
  timeThroughput,
} from "./timing.ts";
import { discard, randomContent } from "./workloads.ts";
import { s3SnapshotBackups } from "./s3_snapshots.ts";

const MiB = 2 ** 20;
/** As the server sends them. */
const PART_SIZE = DEFAULT_PART_SIZE;
const PARTS_IN_FLIGHT = DEFAULT_PARTS_IN_FLIGHT;
const SMALL = 4096;

/** 4 KiB of random bytes (they do not compress). */
function randomSmall(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SMALL));
}
const CLIENTS = 16;
/**
 * Files per snapshot in the snapshot row: the smaller of the sizes weighed (64, 256), so the
 * stricter: a snapshot's fixed cost (list, commit, its index, tree-reference and snapshot objects)
 * is shared by 4x fewer files than at 256, and 64 changed small files is a plain incremental run.
 */
const FILES_PER_SNAPSHOT = 64;

/** Rows and figures of the S3 bench. */
export async function s3Rows(size: number, seconds: number) {
  await using _engine = await useEngine();
  const rows: Row[] = [];
  const figures: Record<string, unknown> = {};
  const store = new S3Client(testLocation());
  await store.ensureBucket();
  const rawPrefix = freshPrefix();

  const rawPut = await bestOfThree(() =>
    timeThroughput(size, () => multipartPut(store, `${rawPrefix}large`, size))
  );
  const rawGet = await bestOfThree(() =>
    timeThroughput(size, () => getRanges(store, `${rawPrefix}large`, size))
  );
  // Random small files on both sides: the server compresses what pays, constant bytes would
  // make its PUTs tiny and the comparison unfair.
  const rawSmallPut = await runFor(
    seconds,
    CLIENTS,
    (worker, n) => store.put(`${rawPrefix}small/${worker}/${n % 20}`, randomSmall()),
  );
  const rawSmallGet = await runFor(
    seconds,
    CLIENTS,
    (worker, n) => getAll(store, `${rawPrefix}small/${worker}/${n % 20}`),
  );

  const server = await startS3Server(freshPrefix());
  try {
    using client = await BackupClient.connect({ userId: 1, port: server.port });
    // Random bytes, other ones each run: the backend deduplicates and compresses, so repeated or
    // constant bytes would measure nothing.
    const contents = [randomContent(size), randomContent(size), randomContent(size)];
    let run = 0;
    const backup = await bestOfThree(() => {
      const content = contents[run++];
      return timeThroughput(size, () => client.backup(`large-${run}`, bytesSource(content), size));
    });
    contents.length = 0;
    const peakRss = (await processMemory(server.pid))?.peak;
    const retrieve = await bestOfThree(() =>
      timeThroughput(size, async () => void await client.retrieve(`large-${run}`, discard))
    );
    const clients = await Promise.all(
      Array.from(
        { length: CLIENTS },
        (_, i) => BackupClient.connect({ userId: 100 + i, port: server.port }),
      ),
    );
    // Each client's 20 names first, untimed: the timed run replaces them.
    await Promise.all(clients.map(async (client) => {
      for (let n = 0; n < 20; n++) await client.backup(`f${n}`, bytesSource(randomSmall()), SMALL);
    }));
    const smallBackup = await runFor(
      seconds,
      CLIENTS,
      (worker, n) => clients[worker].backup(`f${n % 20}`, bytesSource(randomSmall()), SMALL),
    );
    const smallNewBackup = await runFor(
      seconds,
      CLIENTS,
      (worker, n) => clients[worker].backup(`new${n}`, bytesSource(randomSmall()), SMALL),
    );
    const smallRetrieve = await runFor(
      seconds,
      CLIENTS,
      async (worker) => void await clients[worker].retrieve("f0", discard),
    );
    for (const c of clients) c.close();

    const rate = (result: { count: number; elapsedMs: number }) =>
      result.count / (result.elapsedMs / 1000);
    const latency = (result: { latencies: number[] }) =>
      `p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${
        percentile(result.latencies, 99).toFixed(1)
      } ms`;
    const small = (what: string, got: RunResult, limit: RunResult, raw: string): Row => ({
      what: `4 KiB ${what}, ${CLIENTS} clients (${latency(got)}); limit: raw 4 KiB ${raw}, ` +
        `${CLIENTS} at once`,
      value: perSecond(rate(got)),
      limit: perSecond(rate(limit)),
      ratio: ratio(rate(got), rate(limit)),
    });
    const large = (what: string, got: Throughput, limit: Throughput, limitName: string): Row => ({
      what: `${what} (best of 3; limit: ${limitName})`,
      value: mib(got.mibPerSecond),
      limit: mib(limit.mibPerSecond),
      ratio: ratio(got.mibPerSecond, limit.mibPerSecond),
    });
    rows.push(
      {
        what: `raw multipart PUT of ${size / MiB} MiB (parts of ${
          PART_SIZE / MiB
        } MiB, ${PARTS_IN_FLIGHT} in flight)`,
        value: mib(rawPut.mibPerSecond),
      },
      {
        what: `raw GET of ${size / MiB} MiB (ranged GETs of ${
          MAX_RUN_BYTES / MiB
        } MiB, ${RUNS_IN_FLIGHT} in flight)`,
        value: mib(rawGet.mibPerSecond),
      },
      large(`S3 backend: backup of ${size / MiB} MiB`, backup, rawPut, "raw multipart PUT"),
      large(`S3 backend: retrieve of ${size / MiB} MiB`, retrieve, rawGet, "raw GET"),
      {
        what: `server peak RSS during the ${size / MiB} MiB uploads`,
        value: peakRss ? `${(peakRss / MiB).toFixed(1)} MiB` : "n/a",
      },
      small("backups replacing a file", smallBackup, rawSmallPut, "PUTs"),
      small("backups of new names", smallNewBackup, rawSmallPut, "PUTs"),
      small("retrieves", smallRetrieve, rawSmallGet, "GETs"),
    );
    Object.assign(figures, {
      rawMultipartPutMibPerSecond: rawPut.mibPerSecond,
      rawGetMibPerSecond: rawGet.mibPerSecond,
      backupMibPerSecond: backup.mibPerSecond,
      retrieveMibPerSecond: retrieve.mibPerSecond,
      serverPeakRssBytes: peakRss,
      rawSmallPutsPerSecond: rate(rawSmallPut),
      rawSmallGetsPerSecond: rate(rawSmallGet),
      smallBackupsPerSecond: rate(smallBackup),
      smallNewBackupsPerSecond: rate(smallNewBackup),
      smallRetrievesPerSecond: rate(smallRetrieve),
    });
  } finally {
    await server.stop();
  }
  // A server of its own (accounts), after the other's rows: the same bucket and raw rate.
  const snapshots = await s3SnapshotBackups({
    clients: CLIENTS,
    files: FILES_PER_SNAPSHOT,
    fileBytes: SMALL,
    seconds,
  });
  const snapshotSeconds = snapshots.runs.elapsedMs / 1000;
  const rawSmallPuts = figures.rawSmallPutsPerSecond as number;
  const ms = (sorted: number[], p: number) => `${percentile(sorted, p).toFixed(0)} ms`;
  rows.push({
    what:
      `4 KiB files in snapshots of ${FILES_PER_SNAPSHOT}, ${CLIENTS} clients at once: files/s ` +
      `(${(snapshots.runs.count / snapshotSeconds).toFixed(1)} commits/s; commit p50 ${
        ms(snapshots.commitLatencies, 50)
      }, p99 ${ms(snapshots.commitLatencies, 99)}; whole run p50 ${
        ms(snapshots.runLatencies, 50)
      }, p99 ${ms(snapshots.runLatencies, 99)}); limit: raw 4 KiB PUTs, ${CLIENTS} at once`,
    value: perSecond(snapshots.files / snapshotSeconds),
    limit: perSecond(rawSmallPuts),
    ratio: ratio(snapshots.files / snapshotSeconds, rawSmallPuts),
  });
  Object.assign(figures, {
    snapshotFilesPerSnapshot: FILES_PER_SNAPSHOT,
    snapshotFilesPerSecond: snapshots.files / snapshotSeconds,
    snapshotCommitsPerSecond: snapshots.runs.count / snapshotSeconds,
    snapshotCommitP50Ms: percentile(snapshots.commitLatencies, 50),
    snapshotCommitP99Ms: percentile(snapshots.commitLatencies, 99),
    snapshotRunP50Ms: percentile(snapshots.runLatencies, 50),
    snapshotRunP99Ms: percentile(snapshots.runLatencies, 99),
  });
  return {
    rows,
    figures,
    chart: [
      {
        label: "raw multipart PUT",
        value: figures.rawMultipartPutMibPerSecond as number,
        kind: "limit" as const,
      },
      { label: "raw GET", value: figures.rawGetMibPerSecond as number, kind: "limit" as const },
      {
        label: "backup (S3 backend)",
        value: figures.backupMibPerSecond as number,
        kind: "server" as const,
      },
      {
        label: "retrieve (S3 backend)",
        value: figures.retrieveMibPerSecond as number,
        kind: "server" as const,
      },
    ],
  };
}

/** A multipart upload of `size` zero bytes, parts as the server sends them. */
async function multipartPut(store: S3Client, key: string, size: number): Promise<void> {
  const id = await store.startMultipart(key);
  const etags: Promise<string>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  for (let offset = 0, part = 1; offset < size; offset += PART_SIZE, part++) {
    const body = new Uint8Array(Math.min(PART_SIZE, size - offset));
    const etag = store.uploadPart(key, id, part, body);
    etags.push(etag);
    const done = etag.finally(() => inFlight.delete(done));
    inFlight.add(done);
    while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
  }
  await store.completeMultipart(key, id, await Promise.all(etags));
}

/** A large object read as the backend reads a chunked file: ranged GETs of a run's size, a few at once. */
async function getRanges(store: S3Client, key: string, size: number): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let offset = 0; offset < size; offset += MAX_RUN_BYTES) {
    const read = store.getRange(key, offset, Math.min(MAX_RUN_BYTES, size - offset))
      .then((response) => response.arrayBuffer());
    const done = read.finally(() => inFlight.delete(done));
    inFlight.add(done);
    while (inFlight.size >= RUNS_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

async function getAll(store: S3Client, key: string): Promise<void> {
  const response = await store.get(key);
  for await (const _ of response.body ?? []) {
    // read and dropped, as a retrieve's client drops what it gets
  }
}
