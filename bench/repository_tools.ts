/**
 * The three stores of the repository comparison (`bench/repository.ts`), behind one shape: this
 * project (a server process of a checkout on a fresh root, driven by that checkout's client CLI),
 * restic with a local repository, and borg with a local repository. Each backs up paths relative to a
 * work folder, and reports the bytes its store holds.
 *
 * @module
 */
import { clientRunArgs, serverRunArgs } from "./processes.ts";
import { treeBytes } from "./corpus_tools.ts";

/** A store that backs up paths and says how many bytes it holds. */
export interface Store extends AsyncDisposable {
  /** "this project", "restic" or "borg". */
  name: string;
  /** Version and settings, as the report shows them. */
  describe: string;
  /** Backs up `paths` (relative to the work folder) as one run; resolves what it reported. */
  backup(paths: string[]): Promise<BackupResult>;
  /** Bytes of every file of the store (root or repository), by size, not blocks. */
  bytes(): Promise<number>;
}

/** One backup run as a store reported it. */
export interface BackupResult {
  ms: number;
  /** Payload bytes the server received for it (this project: from its request log). */
  sentBytes?: number;
  /** The tool's own summary (restic's `data_added`, borg's `deduplicated_size`, ...). */
  reported?: Record<string, unknown>;
}

const decoder = new TextDecoder();

/** Runs a program; resolves its standard output and error; throws with its standard error on failure. */
export async function run(
  program: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ stdout: string; stderr: string }> {
  const output = await new Deno.Command(program, { ...options, args, stdin: "null" }).output();
  const stderr = decoder.decode(output.stderr);
  if (!output.success) {
    throw new Error(`${program} ${args.join(" ")} exited ${output.code}: ${stderr.slice(-2000)}`);
  }
  return { stdout: decoder.decode(output.stdout), stderr };
}

/** `program --version`'s first line, or undefined if it is not installed. */
export async function versionOf(program: "restic" | "borg"): Promise<string | undefined> {
  try {
    const args = program === "restic" ? ["version"] : ["--version"];
    // "restic 0.14.0 compiled with go1.19.8 on linux/amd64", "borg 1.2.4": the name and version.
    return (await run(program, args)).stdout.split(" ").slice(0, 2).join(" ").trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Times `work`. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/**
 * This project: `server.ts` of `checkout` on a fresh root in `dir`, and `client.ts backup` of the
 * same checkout as a subprocess per run (a key made by `keygen`; snapshots, protocol v3, where the
 * checkout has them, else v2). The payload bytes come from the server's log (`--log-format json`):
 * its request lines, and the `blob requests` line that sums up a v3 connection's blobs.
 */
export async function projectStore(dir: string, work: string, checkout: string): Promise<Store> {
  const root = `${dir}/project-root`;
  const home = `${dir}/project-home`;
  await Deno.mkdir(root);
  await Deno.mkdir(home);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...serverRunArgs(root),
      `${checkout}/server.ts`,
      ...["--root", root, "--port", "0", "--log-format", "json"],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Every request line the server logs; the reader keeps draining so that the server never blocks.
  const records: Array<{ op?: string; bytes?: number; msg?: string; bytesIn?: number }> = [];
  const { promise: listening, resolve: announce } = Promise.withResolvers<number>();
  const reading = (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (pending + text).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          continue; // not a log line: nothing to count
        }
        const address = /^127\.0\.0\.1:(\d+)$/.exec(record.address ?? "");
        if (address) announce(Number(address[1]));
        if (record.msg === "request" || record.msg === "blob requests") records.push(record);
      }
    }
  })();
  const port = await Promise.race([
    listening,
    child.status.then(({ code }) => {
      throw new Error(`${checkout}/server.ts exited ${code} before listening`);
    }),
  ]);
  const client = (...args: string[]) =>
    run(Deno.execPath(), [...clientRunArgs(checkout), ...args], {
      cwd: work,
      env: { HOME: home, XDG_CONFIG_HOME: `${home}/.config` },
    });
  await client("keygen");
  // Requests that bring bytes to the server (not those that only answer with bytes).
  const downloads = new Set(["list", "retrieve", "versions", "hello", "auth"]);
  const sent = () =>
    records.filter((record) => !downloads.has(record.op ?? ""))
      .reduce((sum, record) => sum + (record.bytes ?? record.bytesIn ?? 0), 0);
  return {
    name: "this project",
    describe: `client CLI of ${checkout} with a key, a server process on a fresh root`,
    async backup(paths) {
      const before = sent();
      const { ms } = await timed(() =>
        client(`--server=127.0.0.1:${port}`, "--user=1", "--quiet", "backup", ...paths)
      );
      // The server logs a request just after its answer: until 50 ms pass with no new line (at most
      // 2 s), the last lines may still be in the pipe.
      const deadline = performance.now() + 2000;
      for (let seen = -1; seen !== records.length && performance.now() < deadline;) {
        seen = records.length;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { ms, sentBytes: sent() - before };
    },
    bytes: () => treeBytes(root),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await reading.catch(() => {});
      await child.status;
    },
  };
}

/** A store of restic or borg, which also restores its latest run. */
export interface RestoringStore extends Store {
  /** Restores the latest run into `target` (a new folder). */
  restore(target: string): Promise<{ ms: number }>;
  /** Runs the tool once, untimed (it lists its runs): its program is then in the page cache. */
  warm(): Promise<void>;
}

/**
 * restic with a local repository `restic-TAG` in `dir` (`restic init` untimed; a cache of its
 * own). restic always encrypts (AES-256-CTR and Poly1305); compression is its default, `auto`
 * (zstd), on a version 2 repository. `backup --host bench PATH...`, whose parent is the latest run
 * of the same paths; `restore latest --target DIR`.
 */
export async function resticStore(
  dir: string,
  work: string,
  version: string,
  tag = "repo",
): Promise<RestoringStore> {
  const repository = `${dir}/restic-${tag}`;
  const env = {
    RESTIC_REPOSITORY: repository,
    RESTIC_PASSWORD: "bench",
    RESTIC_CACHE_DIR: `${dir}/restic-${tag}-cache`,
  };
  await run("restic", ["init", "--repository-version", "2"], { env });
  return {
    name: "restic",
    describe: `${version}: local repository, encrypted (always), compression auto (zstd)`,
    async backup(paths) {
      const { ms, value } = await timed(() =>
        run("restic", ["backup", "--json", "--host", "bench", ...paths], { cwd: work, env })
      );
      const summary = value.stdout.split("\n").filter((line) => line.includes('"summary"'))
        .map((line) => JSON.parse(line))[0] ?? {};
      const { data_added, total_bytes_processed, files_new, files_changed, files_unmodified } =
        summary;
      return {
        ms,
        reported: { data_added, total_bytes_processed, files_new, files_changed, files_unmodified },
      };
    },
    async restore(target) {
      const { ms } = await timed(() =>
        run("restic", ["restore", "latest", "--target", target], { env })
      );
      return { ms };
    },
    bytes: () => treeBytes(repository),
    async warm() {
      await run("restic", ["snapshots"], { env });
    },
    async [Symbol.asyncDispose]() {},
  };
}

/**
 * borg with a local repository `borg-TAG` in `dir` (`borg init -e none` untimed: this project
 * stores without encryption at rest, and borg's `none` mode keeps SHA-256 chunk ids, as this
 * project's digests; compression its default, lz4; its config, cache and security folders in
 * `dir`). `create REPO::run-N PATH...` (its files cache skips unchanged files), `extract
 * REPO::run-N` in the target folder.
 */
export async function borgStore(
  dir: string,
  work: string,
  version: string,
  tag = "repo",
): Promise<RestoringStore> {
  const repository = `${dir}/borg-${tag}`;
  const env = {
    BORG_BASE_DIR: `${dir}/borg-${tag}-home`,
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
    BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
  };
  await run("borg", ["init", "-e", "none", repository], { env });
  let archives = 0;
  return {
    name: "borg",
    describe: `${version}: local repository, -e none, compression lz4 (default)`,
    async backup(paths) {
      const archive = `${repository}::run-${++archives}`;
      const { ms, value } = await timed(() =>
        run("borg", ["create", "--json", archive, ...paths], { cwd: work, env })
      );
      const stats = JSON.parse(value.stdout).archive?.stats ?? {};
      const { original_size, compressed_size, deduplicated_size, nfiles } = stats;
      return { ms, reported: { original_size, compressed_size, deduplicated_size, nfiles } };
    },
    async restore(target) {
      const { ms } = await timed(() =>
        run("borg", ["extract", `${repository}::run-${archives}`], { cwd: target, env })
      );
      return { ms };
    },
    bytes: () => treeBytes(repository),
    async warm() {
      await run("borg", ["list", repository], { env });
    },
    async [Symbol.asyncDispose]() {},
  };
}
