/**
 * `deno run -P=harness bench/upload_speed.ts [--size MiB] [--runs N] [--v2] [--checkout DIR]...`:
 * the speed of one large upload through the real server process and the library client, and the
 * server's peak RSS during it, for this folder's server and for each `--checkout` (a `git worktree`
 * of another commit), interleaved: run 1 of every server, then run 2 of every server, and so on, so
 * that a busy moment on a shared machine falls on all of them alike. Every upload is new random
 * bytes (the server deduplicates: repeated bytes would measure nothing) into a fresh root, with the
 * server started again (its peak, `VmHWM` reset through `/proc/PID/clear_refs` once it answered a
 * first list, is then this upload's own). Prints each run and, per server, the best speed and the
 * median peak; with `--raw`, the raw loopback into a durable file hashing SHA-256 in the same run.
 *
 * @module
 */
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { bytesSource } from "../io/byte_stream.ts";
import {
  cpuSeconds,
  DENO_SERVER_ARGS,
  processMemory,
  resetPeakRss,
  startServerProcess,
} from "../harness/server_process.ts";
import { rawLoopbackToFile } from "./raw_limits.ts";
import { timeThroughput } from "./timing.ts";
import { randomContent } from "./workloads.ts";
import { v2Account } from "./workloads_v2.ts";

const MiB = 2 ** 20;

/** `checkout`'s server on `root`, sandboxed. */
function startServer(checkout: string, root: string, extra: string[], readable: string[]) {
  return startServerProcess(root, [...DENO_SERVER_ARGS, ...extra], readable, { checkout });
}

/** VmRSS or VmHWM of a process, in bytes. */
async function statusField(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const memory = await processMemory(pid);
  if (!memory) throw new Error("cannot read the server's memory (Linux only)");
  return field === "VmRSS" ? memory.rss : memory.peak;
}

/** One upload of `content` to a new server from `checkout`: its speed and the server's peak. */
async function measure(
  checkout: string,
  dir: string,
  content: Uint8Array,
  v2: Awaited<ReturnType<typeof v2Account>> | undefined,
): Promise<{ mibPerSecond: number; peak: number; idle: number; cpu: number }> {
  const root = await Deno.makeTempDir({ dir, prefix: "root-" });
  const server = await startServer(checkout, root, v2?.extra ?? [], v2?.readable ?? []);
  try {
    const client = v2
      ? await BackupClientV2.connect({
        userId: 1,
        key: v2.key,
        hostname: "127.0.0.1",
        port: server.port,
        tls: true,
        caCerts: v2.caCerts,
      })
      : await BackupClient.connect({ userId: 1, port: server.port });
    try {
      await client.list();
      const idle = await statusField(server.pid, "VmRSS");
      await resetPeakRss(server.pid);
      const cpuBefore = await cpuSeconds(server.pid);
      const { mibPerSecond } = await timeThroughput(content.length, async () => {
        await client.backup("upload.bin", bytesSource(content), content.length);
      });
      const cpu = await cpuSeconds(server.pid) - cpuBefore;
      return { mibPerSecond, peak: await statusField(server.pid, "VmHWM"), idle, cpu };
    } finally {
      client.close();
    }
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];

if (import.meta.main) {
  const { taskArgs } = await import("../cli/flags.ts");
  const { values } = taskArgs(
    "upload_speed",
    "deno run -P=harness bench/upload_speed.ts [--size MiB] [--runs N] [--v2] [--raw] [--checkout DIR]...",
    {
      size: { type: "string" },
      runs: { type: "string" },
      v2: { type: "boolean" },
      raw: { type: "boolean" },
      checkout: { type: "string", multiple: true },
      dir: { type: "string" },
    },
  );
  const size = Number(values.size ?? 1024) * MiB;
  const runs = Number(values.runs ?? 3);
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const checkouts = [...(values.checkout ?? []), here];
  const dir = await Deno.makeTempDir({ dir: values.dir, prefix: "upload-speed-" });
  try {
    const v2 = values.v2 ? await v2Account(dir) : undefined;
    const results = new Map<
      string,
      { speeds: number[]; peaks: number[]; idles: number[]; cpus: number[] }
    >(checkouts.map((checkout) => [checkout, { speeds: [], peaks: [], idles: [], cpus: [] }]));
    const raws: number[] = [];
    for (let run = 1; run <= runs; run++) {
      for (const checkout of checkouts) {
        const figures = await measure(checkout, dir, randomContent(size), v2);
        const result = results.get(checkout)!;
        result.speeds.push(figures.mibPerSecond);
        result.peaks.push(figures.peak);
        result.idles.push(figures.idle);
        result.cpus.push(figures.cpu / (size / 2 ** 30));
        console.log(
          `run ${run} ${checkout}${v2 ? " (v2, TLS)" : ""}: ${figures.mibPerSecond.toFixed(0)} ` +
            `MiB/s, peak RSS ${(figures.peak / MiB).toFixed(1)} MiB (idle ${
              (figures.idle / MiB).toFixed(1)
            }), server CPU ${figures.cpu.toFixed(2)} s`,
        );
      }
      if (values.raw) {
        const raw = await rawLoopbackToFile(dir, size, true, true);
        raws.push(raw.mibPerSecond);
        console.log(
          `run ${run} raw loopback into a durable file, SHA-256: ${
            raw.mibPerSecond.toFixed(0)
          } MiB/s`,
        );
      }
    }
    for (const [checkout, { speeds, peaks, idles, cpus }] of results) {
      console.log(
        `${checkout}: best ${Math.max(...speeds).toFixed(0)} MiB/s, median ${
          median(speeds).toFixed(0)
        } MiB/s; peak RSS median ${(median(peaks) / MiB).toFixed(1)} MiB (max ${
          (Math.max(...peaks) / MiB).toFixed(1)
        }), idle ${(median(idles) / MiB).toFixed(1)} MiB; server CPU median ${
          median(cpus).toFixed(2)
        } s per GiB`,
      );
    }
    if (raws.length > 0) {
      console.log(
        `raw loopback into a durable file hashing SHA-256: best ${
          Math.max(...raws).toFixed(0)
        } MiB/s`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
