/**
 * Parts of the snapshot kill tests (`snapshot_kill_test.ts`): a workspace with a key and an
 * account, servers as processes whose JSON log is read as it comes (`server.ts`, or
 * `_snapshot_kill_server.ts` with its commit hook), the client's `backup --json` as a process
 * whose events are read as they come, and the blobs each run put, from the server's log.
 *
 * @module
 */
import {
  type ClientWorkspace,
  clientWorkspace,
  type CliResult,
  keyedUsersFile,
  runCli,
} from "./_processes.ts";
import { DENO, PROJECT_DIR } from "./_helpers.ts";
import { TLS } from "./_v2.ts";

/** The account's user id. */
export const USER_ID = 7;

/** A process whose stdout is JSON lines, read into `lines` as they come. */
export interface LineProcess {
  child: Deno.ChildProcess;
  /** Every line read so far, in order. */
  lines: Record<string, unknown>[];
  /** Resolves the first line from `from` on that matches (`undefined` if the process ends first). */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    from?: number,
  ): Promise<Record<string, unknown> | undefined>;
  /** Resolves once the process ended and all its output was read. */
  ended: Promise<{ status: Deno.CommandStatus; stderr: string }>;
  /** SIGKILL (if still running), then `ended`. */
  kill(): Promise<{ status: Deno.CommandStatus; stderr: string }>;
}

/** Spawns `deno run FLAGS SCRIPT ARGS`, reading stdout's JSON lines (other lines are skipped). */
export function spawnLines(
  script: string,
  args: string[],
  options: { flags: string[]; cwd?: string; env?: Record<string, string>; stdin?: boolean },
): LineProcess {
  const child = new Deno.Command(DENO, {
    args: ["run", "--quiet", "--no-prompt", ...options.flags, script, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  let wake: () => void = () => {};
  let changed = new Promise<void>((resolve) => wake = resolve);
  const notify = () => {
    const old = wake;
    changed = new Promise<void>((resolve) => wake = resolve);
    old();
  };
  let done = false;
  // Drained as it comes: a server blocked on a full pipe would stall the run under test.
  const reading = (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let end;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.startsWith("{")) lines.push(JSON.parse(line));
      }
      notify();
    }
    done = true;
    notify();
  })();
  const stderr = new Response(child.stderr).text();
  const ended = (async () => {
    await reading;
    const status = await child.status;
    if (options.stdin) await child.stdin.close().catch(() => {}); // the process is gone
    return { status, stderr: await stderr };
  })();
  const waitFor = async (match: (line: Record<string, unknown>) => boolean, from = 0) => {
    for (let i = from;;) {
      for (; i < lines.length; i++) if (match(lines[i])) return lines[i];
      if (done) return undefined;
      await changed;
    }
  };
  return {
    child,
    lines,
    waitFor,
    ended,
    kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // it already exited
      }
      return ended;
    },
  };
}

/** A server process listening on `port`. */
export interface ServerProc extends LineProcess {
  port: number;
  /** Writes a line to its standard input (the hook server goes on from its pause). */
  release(): Promise<void>;
}

/** Where the tests run: a key, its account, a source tree, a root. */
export interface KillWorkspace extends AsyncDisposable {
  w: ClientWorkspace;
  /** The backup root. */
  root: string;
  /** The tree backed up. */
  src: string;
  usersFile: string;
  /** `server.ts` on `root` (a restart after a kill keeps the root). */
  startServer(): Promise<ServerProc>;
  /** `_snapshot_kill_server.ts` on `root`, pausing a commit at `step`. */
  startHookServer(step: string, packBytes: number): Promise<ServerProc>;
  /** Runs the client CLI to completion against `server`. */
  client(server: ServerProc, ...args: string[]): Promise<CliResult>;
  /** Starts the client CLI against `server`; its `--json` events are its lines. */
  spawnClient(server: ServerProc, ...args: string[]): LineProcess;
}

const SERVER_FLAGS = (dir: string) => [
  `--allow-read=${dir},${PROJECT_DIR}/tests/fixtures/tls`,
  `--allow-write=${dir}/root`,
  "--allow-net=127.0.0.1",
];

async function listening(proc: LineProcess, stdin: boolean): Promise<ServerProc> {
  const line = await proc.waitFor((line) => line.msg === "listening");
  if (!line) throw new Error(`the server did not start: ${(await proc.ended).stderr}`);
  return {
    ...proc,
    port: Number(String(line.address).split(":").at(-1)),
    async release() {
      if (!stdin) throw new Error("this server reads no standard input");
      const writer = proc.child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      writer.releaseLock();
    },
  };
}

/** Makes the workspace, its key and its users file. */
export async function killWorkspace(): Promise<KillWorkspace> {
  const w = await clientWorkspace("snapkill-", { below: "work" });
  const usersFile = await keyedUsersFile(w, USER_ID);
  const root = `${w.dir}/root`;
  const at = (server: ServerProc) => [
    `--server=127.0.0.1:${server.port}`,
    `--user=${USER_ID}`,
    `--ca=${TLS.certFile}`,
  ];
  return {
    w,
    root,
    src: `${w.dir}/src`,
    usersFile,
    startServer: () =>
      listening(
        spawnLines(`${PROJECT_DIR}/server.ts`, [
          "--log-format=json",
          "--log-blob-requests", // the tests read every put from the log
          `--root=${root}`,
          "--port=0",
          `--users=${usersFile}`,
          `--tls-cert=${TLS.certFile}`,
          `--tls-key=${TLS.keyFile}`,
        ], { flags: SERVER_FLAGS(w.dir) }),
        false,
      ),
    startHookServer: (step, packBytes) =>
      listening(
        spawnLines(
          `${PROJECT_DIR}/tests/_snapshot_kill_server.ts`,
          [root, usersFile, step, String(packBytes)],
          { flags: SERVER_FLAGS(w.dir), stdin: true },
        ),
        true,
      ),
    client: (server, ...args) => runCli("client.ts", [...at(server), ...args], w.options),
    spawnClient: (server, ...args) =>
      spawnLines(`${PROJECT_DIR}/client.ts`, [...at(server), ...args], {
        flags: [`--config=${PROJECT_DIR}/deno.json`, "-P=client"],
        cwd: w.options.cwd,
        env: w.options.env,
      }),
    async [Symbol.asyncDispose]() {
      await w[Symbol.asyncDispose]();
    },
  };
}

/** Bytes of random data. */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/**
 * A tree of a few MiB and many small files, every byte random (no chunk shared): `bigFiles`
 * files of 1 MiB, and `smallFiles` of 1 to 8 KiB spread over ten folders. Resolves its bytes.
 */
export async function makeTree(
  src: string,
  counts: { bigFiles: number; smallFiles: number },
): Promise<number> {
  let total = 0;
  await Deno.mkdir(`${src}/big`, { recursive: true });
  for (let i = 0; i < counts.bigFiles; i++) {
    await Deno.writeFile(`${src}/big/b${i}`, randomBytes(1024 * 1024));
    total += 1024 * 1024;
  }
  for (let i = 0; i < counts.smallFiles; i++) {
    const dir = `${src}/d${i % 10}`;
    if (i < 10) await Deno.mkdir(dir);
    const size = 1024 + (i * 7919) % (7 * 1024);
    await Deno.writeFile(`${dir}/f${i}`, randomBytes(size));
    total += size;
  }
  await Deno.symlink("big/b0", `${src}/link`);
  return total;
}

/** One PutBlob as the server logged it. */
export interface LoggedPut {
  id: string;
  bytes: number;
  status: number | "-";
}

/** The PutBlobs logged in `lines[from, to)`. */
export function putsIn(lines: Record<string, unknown>[], from = 0, to = lines.length): LoggedPut[] {
  return lines.slice(from, to).filter((line) => line.op === "put-blob").map((line) => ({
    id: String(line.name),
    bytes: Number(line.bytes),
    status: line.status as number | "-",
  }));
}

/** `diff -r` of two folders, links compared as links. */
export async function diffR(a: string, b: string): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command("diff", { args: ["-r", "--no-dereference", a, b] })
    .output();
  return { code: output.code, out: new TextDecoder().decode(output.stdout) };
}

/** The JSON lines of a CLI's stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}
