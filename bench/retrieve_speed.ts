/**
 * `deno run -A bench/retrieve_speed.ts [--size MiB] [--runs N] [--dir DIR] [--cpu-prof DIR]
 * [--checkout DIR]...`: the 1 GiB retrieve through the real server process (protocol v1 and v2 on
 * plain TCP through the library, v1 through the client CLI into a file) for one or more checkouts
 * of this repository in the same run, their runs interleaved (A, B, C, A, B, C...) so that the
 * shared machine's load falls on every checkout alike. Prints, per checkout, the best and the
 * median speed, the server's CPU seconds per GiB (all its threads: steadier than speeds on a busy
 * machine), and its peak RSS during the retrieves (on a server started again after the upload, its
 * peak reset: freed memory mostly stays with a process, so the upload's would hide the retrieve's).
 *
 * Each checkout's own `server.ts` serves; the client is this checkout's (v1 and v2 are unchanged on
 * the wire). Random bytes, stored once per checkout and user.
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { ByteSource } from "../io/byte_stream.ts";
import {
  cpuSeconds,
  DENO_SERVER_ARGS,
  processMemory,
  resetPeakRss,
  type ServerProcess,
  startServerProcess,
} from "../harness/server_process.ts";
import { CLIENT_RUN_ARGS } from "./processes.ts";
import { timeThroughput } from "./timing.ts";
import { discard } from "./workloads.ts";
import { v2Account } from "./workloads_v2.ts";

const MiB = 2 ** 20;
const { values: args } = taskArgs(
  "retrieve_speed",
  "deno run -A bench/retrieve_speed.ts [--size MiB] [--runs N] [--dir DIR] [--cpu-prof DIR] [--checkout DIR]...\n\nTimes library retrieves (v1, v2 plain) and CLI restores (v1, to a file) through each checkout's server process, interleaved.\n  --size MiB      the file retrieved (default 1024)\n  --runs N        retrieves of each kind per checkout (default 3)\n  --dir DIR       where temporary roots go (default the system temp folder)\n  --cpu-prof DIR  run the servers with --cpu-prof, profiles into DIR\n  --checkout DIR  a checkout whose server.ts serves (repeatable; default this one)\n  --clients N     instead: N v1 library retrieves at once, each on its connection (memory)",
  {
    size: { type: "string" },
    runs: { type: "string" },
    dir: { type: "string" },
    "cpu-prof": { type: "string" },
    checkout: { type: "string", multiple: true },
    clients: { type: "string" },
  },
);
const size = Number(args.size ?? 1024) * MiB;
const clients = Number(args.clients ?? 1);
const runs = Number(args.runs ?? 3);
const checkouts = args.checkout ?? [new URL("..", import.meta.url).pathname.replace(/\/$/, "")];
const log = (text: string) => console.error(`retrieve_speed: ${text}`);

/** A source of `size` random bytes (other ones each call). */
function randomSource(size: number): ByteSource {
  let left = size;
  return {
    read(buffer) {
      if (left === 0) return Promise.resolve(null);
      const count = Math.min(left, buffer.length);
      for (let at = 0; at < count; at += 65536) {
        crypto.getRandomValues(buffer.subarray(at, Math.min(count, at + 65536)));
      }
      left -= count;
      return Promise.resolve(count);
    },
  };
}

/** `checkout`'s server on `root` (v2 accounts from `users`, v1 beside them), sandboxed. */
function startServer(checkout: string, root: string, users: string, prof?: string) {
  return startServerProcess(root, ["--users", users, "--allow-v1", ...DENO_SERVER_ARGS], [users], {
    checkout,
    denoArgs: prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [],
    writable: prof ? [prof] : [],
  });
}

const V2_USER = 1;
const V1_USER = 2;

interface Target {
  checkout: string;
  root: string;
  server: ServerProcess;
  v1: BackupClient;
  v2: BackupClientV2;
  idleRss: number;
  times: Record<Kind, number[]>;
  /** Server CPU seconds per GiB retrieved, per run. */
  cpu: Record<Kind, number[]>;
}

/**
 * Library v1, library v2 (plain TCP), and the client CLI (v1) restoring to a file; or, with
 * `--clients N`, N library v1 retrieves at once ("many").
 */
const ALL_KINDS = ["v1", "v2", "cli", "many"] as const;
type Kind = typeof ALL_KINDS[number];
const KINDS: readonly Kind[] = clients > 1 ? ["many"] : ["v1", "v2", "cli"];

const work = await Deno.makeTempDir({ dir: args.dir, prefix: "retrieve-speed-" });
const { key, users } = await v2Account(work); // user 1: V2_USER
const connect = async (port: number) => ({
  v1: await BackupClient.connect({ userId: V1_USER, port }),
  v2: await BackupClientV2.connect({ userId: V2_USER, key, hostname: "127.0.0.1", port }),
});

const restored = `${work}/restored.bin`;
/** `client.ts restore` (this checkout's, v1) of the large file into `restored`. */
async function restore(port: number): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      ...CLIENT_RUN_ARGS,
      `--server=127.0.0.1:${port}`,
      `--user=${V1_USER}`,
      "--quiet",
      "restore",
      "large.bin",
      "-o",
      restored,
    ],
    stdin: "null",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}

/** `clients` v1 retrieves of the large file at once, each on its own connection. */
async function retrieveAtOnce(port: number): Promise<void> {
  const many = await Promise.all(
    Array.from({ length: clients }, () => BackupClient.connect({ userId: V1_USER, port })),
  );
  try {
    await Promise.all(many.map((client) => client.retrieve("large.bin", discard)));
  } finally {
    for (const client of many) client.close();
  }
}

const targets: Target[] = [];
try {
  for (const [n, checkout] of checkouts.entries()) {
    const root = `${work}/root-${n}`;
    await Deno.mkdir(root);
    {
      const server = await startServer(checkout, root, users);
      const { v1, v2 } = await connect(server.port);
      log(`${checkout}: storing ${size / MiB} MiB twice (v1, v2)`);
      await v1.backup("large.bin", randomSource(size), size);
      await v2.backup("large.bin", randomSource(size), size);
      v1.close();
      v2.close();
      await server.stop();
    }
    const server = await startServer(checkout, root, users, args["cpu-prof"]);
    const { v1, v2 } = await connect(server.port);
    await v1.list();
    const idleRss = (await processMemory(server.pid))?.rss ?? NaN;
    await resetPeakRss(server.pid);
    targets.push({
      checkout,
      root,
      server,
      v1,
      v2,
      idleRss,
      times: { v1: [], v2: [], cli: [], many: [] },
      cpu: { v1: [], v2: [], cli: [], many: [] },
    });
  }
  for (let run = 0; run < runs; run++) {
    for (const target of targets) {
      for (const version of KINDS) {
        const cpuBefore = await cpuSeconds(target.server.pid);
        await Deno.remove(restored).catch(() => {}); // a new file each time, as the raw limits write
        const moved = version === "many" ? size * clients : size;
        const { mibPerSecond } = await timeThroughput(moved, async () => {
          if (version === "cli") return await restore(target.server.port);
          if (version === "many") return await retrieveAtOnce(target.server.port);
          const result = await target[version].retrieve("large.bin", discard);
          const got = typeof result === "number" ? result : result.size;
          if (got !== size) throw new Error(`retrieved ${got} of ${size} bytes`);
        });
        const cpu = (await cpuSeconds(target.server.pid) - cpuBefore) / (moved / 2 ** 30);
        target.times[version].push(mibPerSecond);
        target.cpu[version].push(cpu);
        log(
          `run ${run + 1} ${target.checkout} ${version}: ${mibPerSecond.toFixed(0)} MiB/s, ` +
            `server CPU ${cpu.toFixed(2)} s/GiB`,
        );
      }
    }
  }
  const median = (values: number[]) => {
    const sorted = values.toSorted((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  console.log(
    clients > 1
      ? `checkout | ${clients} retrieves at once, best / median MiB/s in all | server CPU s/GiB ` +
        "(median) | idle / peak RSS MiB"
      : "checkout | v1 best / median MiB/s | v2 best / median | CLI restore best / median | " +
        "server CPU s/GiB v1 / v2 / CLI (medians) | idle / peak RSS MiB",
  );
  for (const target of targets) {
    const memory = await processMemory(target.server.pid);
    const cell = (values: number[]) =>
      `${Math.max(...values).toFixed(0)} / ${median(values).toFixed(0)}`;
    console.log(
      `${target.checkout} | ${KINDS.map((kind) => cell(target.times[kind])).join(" | ")} | ` +
        `${KINDS.map((kind) => median(target.cpu[kind]).toFixed(2)).join(" / ")} | ` +
        `${(target.idleRss / MiB).toFixed(1)} / ${((memory?.peak ?? NaN) / MiB).toFixed(1)}`,
    );
  }
} finally {
  for (const target of targets) {
    target.v1.close();
    target.v2.close();
    await target.server.stop();
  }
  await Deno.remove(work, { recursive: true });
}
