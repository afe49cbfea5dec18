/**
 * Starts the real server as its own process (so that its memory can be measured apart from the load),
 * sandboxed to its root and loopback.
 *
 * @module
 */
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

/** Starts `server.ts` on 127.0.0.1, a free port, with `root`; resolves once it listens. */
export async function startServerProcess(
  root: string,
  extraArgs: string[] = [],
  /** Files it may read besides its root (a users file, TLS files). */
  readable: string[] = [],
): Promise<ServerProcess> {
  const { child, port, output } = await spawnListening(
    [
      "run",
      "--quiet",
      "--no-prompt",
      `--allow-read=${[root, ...readable].join(",")}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
      SERVER_ENTRY,
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
