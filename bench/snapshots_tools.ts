/**
 * The stores of the snapshot comparison (`bench/snapshots.ts`) behind one shape: this project (a
 * server process of this checkout, plain TCP or TLS, driven by the client CLI's snapshot commands,
 * protocol v3 with a key; a plain or an encrypted repository), restic and borg (local repositories). Each backs up paths relative to a
 * work folder as one run, restores its latest run into a folder, and says how many bytes it holds.
 * Also the data: a tree of small files from a fixed seed, and a proxy that counts bytes on the wire.
 *
 * @module
 */
import { cpuSeconds, startServerProcess } from "../harness/server_process.ts";
import { treeBytes } from "./corpus_tools.ts";
import { run, timed } from "./repository_tools.ts";
import { CLIENT_RUN_ARGS } from "./processes.ts";
import { TLS_DIR } from "./workloads_v2.ts";
import type { SnapshotFigures, StepFigures } from "./snapshots.ts";

/** The names of this project's three stores, as the figures key them. */
export const OURS = "this project";
export const OURS_TLS = "this project, TLS";
/** An encrypted repository (issue #23, a key file), plain TCP. */
export const OURS_ENCRYPTED = "this project, encrypted";

/** A store of the snapshot comparison. */
export interface SnapshotStore extends AsyncDisposable {
  /** "this project", "this project, TLS", "this project, encrypted", "restic" or "borg". */
  name: string;
  describe: string;
  /** Backs up `paths` (relative to the work folder) as one run. */
  backup(paths: string[], options?: { counted?: boolean }): Promise<RunFigures>;
  /** Restores the latest run into `target` (a new folder). */
  restore(target: string): Promise<RunFigures>;
  /** Bytes of every file of the store (root or repository), by size, not blocks. */
  bytes(): Promise<number>;
  /** Runs the tool once, untimed (it lists its runs): its program is then in the page cache. */
  warm(): Promise<void>;
}

/** One command: its wall time, and where this project's went. */
export interface RunFigures {
  ms: number;
  /** The client process's CPU (user + system, every thread; `/usr/bin/time`), this project only. */
  clientCpuMs?: number;
  /** The server process's CPU over the same command (`/proc/PID/stat`), this project only. */
  serverCpuMs?: number;
  /** Bytes through the counting proxy, both ways (`counted` runs of this project only). */
  wireBytes?: { up: number; down: number };
  /** The tool's own summary (restic's `data_added`, borg's `deduplicated_size`). */
  reported?: Record<string, unknown>;
}

/** Bytes a counted run moved, both ways (NaN for a run not counted). */
export function wireBytes(run: RunFigures): number {
  return (run.wireBytes?.up ?? NaN) + (run.wireBytes?.down ?? NaN);
}

/**
 * The most `of` gives for a store's changed backup in any of the file's rounds: the figure a bound
 * is held to (where the overwrite lands among the chunks moves it from round to round).
 */
export function mostOfRounds(
  figures: SnapshotFigures,
  store: string,
  of: (step: StepFigures) => number,
): number {
  return Math.max(...figures.fileRounds.map((round) => of(round[store].changed)));
}

/** A small seeded generator (xorshift32): the same tree in every run. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/**
 * Writes `files` files of 1-32 KiB (sizes and bytes from a fixed seed: incompressible, no two
 * alike) under `path`, 10 folders of 10 folders, the files spread over the 100. Resolves their bytes.
 */
export async function writeSmallTree(path: string, files: number, seed = 22): Promise<number> {
  const next = xorshift(seed);
  const words = new Uint32Array(8192);
  const bytes = new Uint8Array(words.buffer);
  let total = 0;
  for (let i = 0; i < files; i++) {
    const folder = `${path}/d${Math.floor(i / 10) % 10}/e${i % 10}`;
    if (i < 100) await Deno.mkdir(folder, { recursive: true });
    const size = 1024 + (next() % (31 * 1024 + 1));
    for (let w = 0; w < Math.ceil(size / 4); w++) words[w] = next();
    await Deno.writeFile(`${folder}/f${String(i).padStart(4, "0")}.bin`, bytes.subarray(0, size));
    total += size;
  }
  return total;
}

/** A TCP proxy on 127.0.0.1 in front of `port` that counts the bytes it forwards each way. */
export interface CountingProxy extends AsyncDisposable {
  port: number;
  up: number;
  down: number;
}

/** Starts a counting proxy to `127.0.0.1:port`. */
export function countingProxy(port: number): CountingProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pipes = new Set<Promise<unknown>>();
  const proxy: CountingProxy = {
    port: (listener.addr as Deno.NetAddr).port,
    up: 0,
    down: 0,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.allSettled(pipes);
    },
  };
  const counted = (add: (count: number) => void) =>
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        add(chunk.length);
        controller.enqueue(chunk);
      },
    });
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        const both = Promise.allSettled([
          client.readable.pipeThrough(counted((n) => proxy.up += n)).pipeTo(server.writable),
          server.readable.pipeThrough(counted((n) => proxy.down += n)).pipeTo(client.writable),
        ]);
        pipes.add(both);
        both.finally(() => pipes.delete(both));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  return proxy;
}

/** Whether `/usr/bin/time` is there to measure the client's CPU. */
const TIME_PROGRAM = await Deno.stat("/usr/bin/time").then(() => true, () => false);

/** How `projectV3Store` reaches its server and keeps its repository. */
export interface ProjectStoreOptions {
  /** TLS with the test certificate of tests/fixtures/tls (else plain TCP). */
  tls?: boolean;
  /** An encrypted repository (`init --repository-key-file`), the key file on every command. */
  encrypted?: boolean;
}

/**
 * This project: this checkout's `server.ts` on a fresh root in `dir` (`--quiet`; with `tls`, the
 * test certificate of tests/fixtures/tls), and `client.ts` as a subprocess per command: `backup
 * PATH...` (one snapshot, protocol v3 with a key from `keygen`) and `restore latest --target DIR`.
 * With `encrypted`, `init` first makes the repository encrypted with a new key file (no KDF: the
 * cost of a passphrase is measured apart, `bench/snapshots_encrypted.ts`).
 */
export async function projectV3Store(
  dir: string,
  work: string,
  options: ProjectStoreOptions = {},
): Promise<SnapshotStore> {
  const { tls = false, encrypted = false } = options;
  const name = [OURS, ...(tls ? ["TLS"] : []), ...(encrypted ? ["encrypted"] : [])].join(", ");
  const base = `${dir}/project${tls ? "-tls" : ""}${encrypted ? "-encrypted" : ""}`;
  const root = `${base}-root`;
  const home = `${base}-home`;
  await Deno.mkdir(root);
  await Deno.mkdir(home);
  const cert = `${TLS_DIR}/server-cert.pem`;
  const server = await startServerProcess(
    root,
    ["--quiet", ...(tls ? ["--tls-cert", cert, "--tls-key", `${TLS_DIR}/server-key.pem`] : [])],
    tls ? [TLS_DIR] : [],
  );
  const env = { HOME: home, XDG_CONFIG_HOME: `${home}/.config` };
  const cpuFile = `${base}-cpu.txt`;
  const secret = encrypted ? [`--repository-key-file=${base}-repo.key`] : [];
  const client = async (cwd: string, args: string[], port = server.port): Promise<RunFigures> => {
    const full = [
      ...CLIENT_RUN_ARGS,
      `--server=127.0.0.1:${port}`,
      "--user=1",
      "--quiet",
      ...(tls ? [`--ca=${cert}`] : []),
      ...args,
      ...secret,
    ];
    const serverBefore = await cpuSeconds(server.pid);
    const { ms } = TIME_PROGRAM
      ? await timed(() =>
        run("/usr/bin/time", ["-f", "%U %S", "-o", cpuFile, Deno.execPath(), ...full], { cwd, env })
      )
      : await timed(() => run(Deno.execPath(), full, { cwd, env }));
    const serverCpuMs = (await cpuSeconds(server.pid) - serverBefore) * 1000;
    if (!TIME_PROGRAM) return { ms, serverCpuMs };
    const [user, system] = (await Deno.readTextFile(cpuFile)).trim().split(/\s+/).map(Number);
    return { ms, clientCpuMs: (user + system) * 1000, serverCpuMs };
  };
  await run(Deno.execPath(), [...CLIENT_RUN_ARGS, "keygen"], { env });
  if (encrypted) await client(work, ["init"]);
  return {
    name,
    describe: `client CLI, snapshots (protocol v3, a key), a server process on a fresh root${
      tls ? ", TLS (rustls, the test certificate)" : ", plain TCP"
    }${encrypted ? ", an encrypted repository (a key file)" : ""}`,
    async backup(paths, options = {}) {
      if (!options.counted) return await client(work, ["backup", ...paths]);
      // The bytes that cross: every request and answer, framing and TLS records included.
      await using proxy = countingProxy(server.port);
      const figures = await client(work, ["backup", ...paths], proxy.port);
      return { ...figures, wireBytes: { up: proxy.up, down: proxy.down } };
    },
    restore: (target) => client(target, ["restore", "latest", "--target", target]),
    bytes: () => treeBytes(root),
    async warm() {
      await client(work, ["snapshots"]);
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
    },
  };
}

/**
 * Runs `deno ARGS` under `/usr/bin/time`: its wall time and CPU (user + system, every thread), in
 * ms. The A/B scripts (`snapshots_ab.ts`, `restore_ab.ts`) time each client command with it.
 *
 * @throws with the command's standard error if it fails.
 */
export async function timedDeno(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ ms: number; cpu: number }> {
  const cpuFile = await Deno.makeTempFile({ prefix: "bench-cpu-" });
  try {
    const started = performance.now();
    const output = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S", "-o", cpuFile, Deno.execPath(), ...args],
      env,
      cwd,
      stdin: "null",
    }).output();
    const ms = performance.now() - started;
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
    const [user, system] = (await Deno.readTextFile(cpuFile)).trim().split(/\s+/).map(Number);
    return { ms, cpu: (user + system) * 1000 };
  } finally {
    await Deno.remove(cpuFile).catch(() => {});
  }
}
