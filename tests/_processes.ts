/** Running the CLIs as real subprocesses, the way users run them. */
import { DENO, PROJECT_DIR } from "./_helpers.ts";

/** What a finished CLI run printed, and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for running a CLI. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Deno flags before the script, e.g. permission flags; default: the project's permission set. */
  denoFlags?: string[];
}

/** Runs `client.ts` or `server.ts` to completion with `deno run`. */
export async function runCli(
  script: "client.ts" | "server.ts",
  args: string[],
  options: RunOptions = {},
): Promise<CliResult> {
  const set = script === "client.ts" ? "client" : "server";
  const flags = options.denoFlags ?? [`--config=${PROJECT_DIR}/deno.json`, `-P=${set}`];
  const output = await new Deno.Command(DENO, {
    args: ["run", "--quiet", "--no-prompt", ...flags, `${PROJECT_DIR}/${script}`, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A server subprocess that has logged its startup line. */
export interface ServerProcess extends AsyncDisposable {
  port: number;
  /** The server's process id. */
  pid: number;
  /** The startup record (`msg: "listening"`). */
  startup: Record<string, unknown>;
  /** Reads log lines until one matches; resolves it (`undefined` if the server exits first). */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown> | undefined>;
  /** Sends a signal and resolves the exit code, every stdout line and stderr. */
  stop(signal?: Deno.Signal): Promise<CliResult & { lines: Record<string, unknown>[] }>;
}

/** Starts `server.ts` with JSON logs and waits for its "listening" line. */
export async function spawnServer(
  args: string[],
  options: RunOptions & { onSpawn?: (pid: number) => void } = {},
): Promise<ServerProcess> {
  const flags = options.denoFlags ?? [`--config=${PROJECT_DIR}/deno.json`, "-P=server"];
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...flags,
      `${PROJECT_DIR}/server.ts`,
      "--log-format=json",
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  options.onSpawn?.(child.pid);
  const stderrText = new Response(child.stderr).text();
  const lines: Record<string, unknown>[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const readLine = async (): Promise<Record<string, unknown> | undefined> => {
    while (!pending.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      pending += value;
    }
    const end = pending.indexOf("\n");
    const line = JSON.parse(pending.slice(0, end));
    pending = pending.slice(end + 1);
    lines.push(line);
    return line;
  };
  let startup: Record<string, unknown> | undefined;
  while (!startup) {
    const line = await readLine();
    if (!line) {
      const status = await child.status;
      throw new Error(`server exited with ${status.code} before listening: ${await stderrText}`);
    }
    if (line.msg === "listening") startup = line;
  }
  let stopped: Promise<CliResult & { lines: Record<string, unknown>[] }> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") =>
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      while (await readLine());
      const status = await child.status;
      return { code: status.code, stdout: "", stderr: await stderrText, lines };
    })();
  const waitForLine = async (match: (line: Record<string, unknown>) => boolean) => {
    for (let line = await readLine(); line; line = await readLine()) if (match(line)) return line;
    return undefined;
  };
  return {
    port: Number(String(startup.address).split(":").at(-1)),
    pid: child.pid,
    startup,
    waitForLine,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A temp folder with its own config home (user id, keys), where the client CLI runs. */
export interface ClientWorkspace extends AsyncDisposable {
  dir: string;
  options: RunOptions;
  /** Runs `client.ts` there, with the workspace's leading arguments first. */
  client(...args: string[]): Promise<CliResult>;
}

/**
 * Makes a workspace; `await using` removes it.
 *
 * @param args arguments every run starts with (`--user=5`, `--server=…`)
 * @param below the client runs in this folder under the workspace (made), not the workspace
 */
export async function clientWorkspace(
  prefix: string,
  settings: { args?: string[]; below?: string } = {},
): Promise<ClientWorkspace> {
  const dir = await Deno.makeTempDir({ prefix });
  const cwd = settings.below ? `${dir}/${settings.below}` : dir;
  if (settings.below) await Deno.mkdir(cwd, { recursive: true });
  const options: RunOptions = { cwd, env: { XDG_CONFIG_HOME: `${dir}/config`, HOME: dir } };
  return {
    dir,
    options,
    client: (...args: string[]) => runCli("client.ts", [...settings.args ?? [], ...args], options),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Runs the workspace's `keygen` (with `keygenArgs`) and writes `users.json` in it giving the key
 * to account `userId`; returns the file's path.
 *
 * @throws {Error} if keygen fails (its standard error in the message).
 */
export async function keyedUsersFile(
  w: ClientWorkspace,
  userId: number,
  options: { name?: string; keygenArgs?: string[] } = {},
): Promise<string> {
  const keygen = await w.client("keygen", ...options.keygenArgs ?? []);
  if (keygen.code !== 0) throw new Error(`keygen failed: ${keygen.stderr}`);
  const usersFile = `${w.dir}/users.json`;
  const user = { id: userId, name: options.name ?? "owner", keys: [keygen.stdout.trim()] };
  await Deno.writeTextFile(usersFile, JSON.stringify({ users: [user] }));
  return usersFile;
}

/** The JSON lines of a `--json` run's standard output. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}
