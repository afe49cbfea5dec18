/**
 * Starts the real server as its own process (so that its memory can be measured apart from the load),
 * sandboxed to its root and loopback, with the V8 flags it is shipped with (`SERVER_V8_ARG`), so
 * that what the benchmarks measure is what users run.
 *
 * @module
 */
import { SERVER_V8_ARG } from "../cli/server_v8_flags.ts";
import { spawnListening } from "./spawn.ts";

/**
 * Extra server flags the harnesses use: quiet logs, a high connection limit, and no per-address cap
 * (every client of a harness comes from 127.0.0.1).
 */
export const DENO_SERVER_ARGS: string[] = [
  "--quiet",
  "--max-connections",
  "5000",
  "--max-connections-per-address",
  "0",
];

/** A running server process. */
export interface ServerProcess {
  port: number;
  pid: number;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

const SERVER_ENTRY = new URL("../server.ts", import.meta.url).pathname;

/** Where the server comes from and what Deno runs it with, besides its root and loopback. */
export interface ServerLaunch {
  /** A checkout (e.g. a `git worktree` of an earlier commit) whose `server.ts` runs. @default this one */
  checkout?: string;
  /**
   * Flags for `deno run` (e.g. `--cpu-prof`), after the shipped `SERVER_V8_ARG` (a later
   * `--v8-flags` adds to it, and overrides a flag it sets again).
   */
  denoArgs?: string[];
  /** Folders it may write besides its root (e.g. where profiles go). */
  writable?: string[];
}

/** Starts `server.ts` on 127.0.0.1, a free port, with `root`; resolves once it listens. */
export async function startServerProcess(
  root: string,
  extraArgs: string[] = [],
  /** Files it may read besides its root (a users file, TLS files). */
  readable: string[] = [],
  launch: ServerLaunch = {},
): Promise<ServerProcess> {
  const { child, port, output } = await spawnListening(
    [
      "run",
      "--quiet",
      "--no-prompt",
      SERVER_V8_ARG,
      ...launch.denoArgs ?? [],
      `--allow-read=${[root, ...readable].join(",")}`,
      `--allow-write=${[root, ...launch.writable ?? []].join(",")}`,
      "--allow-net=127.0.0.1",
      launch.checkout ? `${launch.checkout}/server.ts` : SERVER_ENTRY,
      "--root",
      root,
      "--port",
      "0",
      "--log-format",
      "json",
      ...extraArgs,
    ],
    (printed) => {
      const match = /"address":"127\.0\.0\.1:(\d+)"/.exec(printed);
      return match ? Number(match[1]) : undefined;
    },
  );
  // Keep draining its log so that it never blocks on a full pipe.
  const draining = (async () => {
    while (!(await output.read()).done);
  })();
  return {
    port,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await draining;
      await child.status;
    },
  };
}

/** Resident memory of a process now and at its peak, in bytes. */
export interface ProcessMemory {
  /** VmRSS. */
  rss: number;
  /** VmHWM: the most it has held since it started. */
  peak: number;
}

/**
 * Memory of a process, on Linux (undefined elsewhere). Read through `cat`, because Deno asks for
 * --allow-all to read /proc directly, and the harnesses run with run permission instead.
 */
export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1]);
  const rss = kib("VmRSS");
  const peak = kib("VmHWM");
  return Number.isFinite(rss) && Number.isFinite(peak)
    ? { rss: rss * 1024, peak: peak * 1024 }
    : undefined;
}

/** Peak resident memory of a process (VmHWM), on Linux. */
export async function peakRssBytes(pid: number): Promise<number | undefined> {
  return (await processMemory(pid))?.peak;
}

/** CPU seconds (user and system, every thread) a process has used, on Linux (`/proc/PID/stat`). */
export async function cpuSeconds(pid: number): Promise<number> {
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stderr: "null" })
    .output();
  const fields = new TextDecoder().decode(output.stdout).split(") ")[1]?.split(" ") ?? [];
  const CLOCK_TICKS = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
}

/**
 * Resets a process's peak (VmHWM) to its RSS now, on Linux (`/proc/PID/clear_refs`), so that the
 * next peak read is that of what follows.
 *
 * @throws {Error} if the kernel refused it.
 */
export async function resetPeakRss(pid: number): Promise<void> {
  const output = await new Deno.Command("sh", {
    args: ["-c", `echo 5 > /proc/${pid}/clear_refs`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!output.success) throw new Error("cannot reset the server's peak RSS (Linux only)");
}
