/**
 * The server's memory with a large chunk index (issue #21: "server RSS during a 1 GiB upload under
 * 100 MiB; with 1,000,000 chunks indexed, under 150 MiB"). Two roots in the same run: an empty one,
 * and one whose index holds N chunks for user 1, made synthetically (`chunk_index_fill.ts`). On each,
 * the real server as its own process, with the V8 flags it is shipped with (`SERVER_V8_FLAGS`, which
 * `startServerProcess` passes): its RSS idle after start, its peak during a 1 GiB upload of
 * random bytes (a new file of user 1: every chunk is looked up among the N), and its peak during
 * the retrieve of that file; the upload's and retrieve's speeds (one run each, library client).
 *
 * `deno task bench` runs it with everything else; alone:
 * `deno run -P=harness bench/chunk_scale.ts [--chunks N] [--size MiB] [--dir DIR] [--out DIR]`.
 *
 * @module
 */
import { BackupClient } from "../client/backup_client.ts";
import { DENO_SERVER_ARGS, resetPeakRss, startServerProcess } from "../harness/server_process.ts";
import { fillChunkIndex, type FillReport } from "./chunk_index_fill.ts";
import { writeRandomFile } from "./corpus_tools.ts";
import { mib, ratio, type Row, writeReport } from "./report.ts";
import { type Throughput, timeThroughput } from "./timing.ts";
import { discard } from "./workloads.ts";

const MiB = 2 ** 20;
/** Issue #21's ceilings on the server's peak RSS during the upload. */
export const RSS_LIMITS = { empty: 100 * MiB, indexed: 150 * MiB } as const;

/** What one root measured. */
export interface RootFigures {
  /** Chunks in the index before the upload. */
  chunksIndexed: number;
  /** VmRSS once the server answered a first list. */
  idleRssBytes: number;
  /** Of it, mapped files (RssFile: mostly the `deno` executable's pages). */
  idleRssFileBytes: number;
  /** VmHWM then: the most it held while it started. */
  startPeakRssBytes: number;
  /** VmHWM during the upload (reset just before it), or since start if it could not be reset. */
  uploadPeakRssBytes: number;
  /** VmHWM during the retrieve, on a server started again after the upload (reset as above). */
  retrievePeakRssBytes: number;
  /** Whether the peaks were reset before each transfer (`/proc/PID/clear_refs`). */
  peaksPerPhase: boolean;
  /** The upload's time and speed. */
  upload: Throughput;
  /** The retrieve's time and speed. */
  retrieve: Throughput;
}

/** The figures of the comparison, as the JSON holds them. */
export interface ChunkScaleFigures {
  fileBytes: number;
  fill: FillReport;
  empty: RootFigures;
  indexed: RootFigures;
}

/** Where and how much. */
export interface ChunkScaleOptions {
  /** Temporary files go in a new folder under it (default the system's), removed at the end. */
  dir?: string;
  /** Chunks indexed in the second root. */
  chunks: number;
  /** Bytes of the file uploaded and retrieved. */
  size: number;
  log?: (text: string) => void;
}

/** A process's memory (`/proc/PID/status`, read through `cat` as `processMemory` does). */
interface Memory {
  /** VmRSS. */
  rss: number;
  /** VmHWM. */
  peak: number;
  /** RssFile: mapped files (most of it the `deno` executable), part of `rss`. */
  file: number;
}

/** The server's memory now, or a failure saying it could not be read. */
async function memoryOf(pid: number): Promise<Memory> {
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  const kib = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1]) * 1024;
  const memory = { rss: kib("VmRSS"), peak: kib("VmHWM"), file: kib("RssFile") };
  if (!Object.values(memory).every(Number.isFinite)) {
    throw new Error(`cannot read /proc/${pid}/status (Linux only)`);
  }
  return memory;
}

/** The server on `root` once it answered a first list: its pid and memory then, peak reset. */
async function startedServer(root: string) {
  const server = await startServerProcess(root, DENO_SERVER_ARGS);
  try {
    const client = await BackupClient.connect({ userId: 1, port: server.port });
    await client.list(); // an answer: the server has opened the root and serves
    const memory = await memoryOf(server.pid);
    const peakReset = await resetPeakRss(server.pid).then(() => true, () => false);
    return {
      client,
      memory,
      peakReset,
      pid: server.pid,
      async [Symbol.asyncDispose]() {
        client.close();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The upload of `file` to a server on `root`, then its retrieve from a server started again (so
 * that the retrieve's peak is its own, not what the upload left: freed memory mostly stays with the
 * process).
 */
async function measureRoot(
  root: string,
  file: string,
  size: number,
  chunksIndexed: number,
): Promise<RootFigures> {
  let idle: { memory: Memory; peakReset: boolean };
  let upload: Throughput;
  let uploadPeak: number;
  {
    await using server = await startedServer(root);
    idle = { memory: server.memory, peakReset: server.peakReset };
    upload = await timeThroughput(size, async () => {
      await server.client.backupFile("upload.bin", file);
    });
    uploadPeak = (await memoryOf(server.pid)).peak;
  }
  await using server = await startedServer(root);
  const retrieve = await timeThroughput(size, async () => {
    const got = await server.client.retrieve("upload.bin", discard);
    if (got !== size) throw new Error(`retrieved ${got} bytes of ${size}`);
  });
  return {
    chunksIndexed,
    idleRssBytes: idle.memory.rss,
    idleRssFileBytes: idle.memory.file,
    startPeakRssBytes: idle.memory.peak,
    uploadPeakRssBytes: uploadPeak,
    retrievePeakRssBytes: (await memoryOf(server.pid)).peak,
    peaksPerPhase: idle.peakReset && server.peakReset,
    upload,
    retrieve,
  };
}

const size = (bytes: number) =>
  bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3} GiB` : `${bytes / MiB} MiB`;
const rss = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** Builds both roots, measures the server on each; resolves the table's rows and the figures. */
export async function chunkScaleRows(
  options: ChunkScaleOptions,
): Promise<{ rows: Row[]; figures: ChunkScaleFigures }> {
  const log = options.log ?? ((text: string) => console.error(`bench: ${text}`));
  const work = await Deno.makeTempDir({ dir: options.dir, prefix: "chunk-scale-" });
  try {
    const file = `${work}/random.bin`;
    await writeRandomFile(file, options.size);
    const indexedRoot = `${work}/indexed-root`;
    const fill = await fillChunkIndex(indexedRoot, 1, options.chunks);
    const count = options.chunks.toLocaleString("en-US");
    log(
      `chunk scale: ${count} chunks indexed synthetically in ${(fill.ms / 1000).toFixed(1)} s (${
        (fill.indexBytes / MiB).toFixed(0)
      } MiB of index)`,
    );
    log(`chunk scale: ${size(options.size)} upload and retrieve on an empty root`);
    const empty = await measureRoot(`${work}/empty-root`, file, options.size, 0);
    log(`chunk scale: the same with ${count} chunks indexed`);
    const indexed = await measureRoot(indexedRoot, file, options.size, options.chunks);
    const figures = { fileBytes: options.size, fill, empty, indexed };
    const upload = size(options.size);
    const rows: Row[] = [];
    for (
      const [label, root, limit] of [
        [`${count} chunks indexed`, indexed, RSS_LIMITS.indexed],
        ["empty root", empty, RSS_LIMITS.empty],
      ] as const
    ) {
      rows.push(
        {
          what: `server peak RSS, ${upload} upload, ${label} (#21)`,
          value: rss(root.uploadPeakRssBytes),
          limit: rss(limit),
          ratio: ratio(root.uploadPeakRssBytes, limit),
        },
        {
          what: `  idle after start / peak during the retrieve (server started again)`,
          value: `${rss(root.idleRssBytes)} / ${rss(root.retrievePeakRssBytes)}`,
        },
        {
          what: `  upload / retrieve (library, one run each)`,
          value: `${mib(root.upload.mibPerSecond)} / ${mib(root.retrieve.mibPerSecond)}`,
        },
      );
    }
    return { rows, figures };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const { taskArgs } = await import("../cli/flags.ts");
  const { values } = taskArgs(
    "chunk_scale",
    "deno run -P=harness bench/chunk_scale.ts [--chunks N] [--size MiB] [--dir DIR] [--out DIR]\n\nThe server's RSS during a large upload and retrieve, on an empty root and on one whose index\nholds N chunks (made synthetically).\n  --chunks N   chunks indexed (default 1000000)\n  --size MiB   the file uploaded and retrieved (default 1024)\n  --dir DIR    where temporary files go (default the system temp folder)\n  --out DIR    where the JSON goes (default bench/results/chunk_scale)",
    {
      chunks: { type: "string" },
      size: { type: "string" },
      dir: { type: "string" },
      out: { type: "string" },
    },
  );
  const fileSize = Number(values.size ?? 1024) * MiB;
  const { rows, figures } = await chunkScaleRows({
    dir: values.dir,
    chunks: Number(values.chunks ?? 1_000_000),
    size: fileSize,
  });
  await writeReport({
    rows,
    figures: { chunkScale: figures },
    size: fileSize,
    seconds: 0,
    outDir: values.out ?? new URL("./results/chunk_scale", import.meta.url).pathname,
    chart: [
      { label: "upload, empty root", value: figures.empty.upload.mibPerSecond, kind: "server" },
      {
        label: "upload, chunks indexed",
        value: figures.indexed.upload.mibPerSecond,
        kind: "server",
      },
      { label: "retrieve, empty root", value: figures.empty.retrieve.mibPerSecond, kind: "server" },
      {
        label: "retrieve, chunks indexed",
        value: figures.indexed.retrieve.mibPerSecond,
        kind: "server",
      },
    ],
  });
}
