/**
 * Starts a crash-test server script (`tests/_crash_server.ts`, `tests/_crash_gc_server.ts`) as its
 * own process, scoped to its root: it prints `port N` first, then a line at each event the test
 * waits for; `kill` ends it with SIGKILL, as a crash would.
 *
 * @module
 */

/** A crash-test server process. */
export interface CrashProcess {
  port: number;
  /** The next line the process printed. */
  nextLine(): Promise<string>;
  /** SIGKILL, then waits for the process to end. */
  kill(): Promise<void>;
}

/** Runs `script` (a file next to this one) with `root` and `args`; resolves once it listens. */
export async function startCrashProcess(
  script: string,
  root: string,
  args: string[],
): Promise<CrashProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-read=${root}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
      new URL(script, import.meta.url).pathname,
      root,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the crash server exited");
      buffered += value;
    }
    const line = buffered.slice(0, buffered.indexOf("\n"));
    buffered = buffered.slice(line.length + 1);
    return line;
  };
  const port = Number((await nextLine()).replace("port ", ""));
  return {
    port,
    nextLine,
    async kill() {
      child.kill("SIGKILL");
      await child.status;
      await lines.cancel();
    },
  };
}
