/** Starting a Deno program that prints the port it listens on, for the harnesses and the bench. */

/** A Deno process started by `spawnListening`, and the port it announced. */
export interface ListeningProcess {
  child: Deno.ChildProcess;
  port: number;
  /** The rest of its standard output: drain it (or cancel it) so that the process never blocks. */
  output: ReadableStreamDefaultReader<string>;
}

/**
 * Runs `deno` with `args` (standard output piped, standard error inherited) and resolves once
 * `findPort` finds the port in what the process has printed so far.
 *
 * @throws {Error} if the process exits first.
 */
export async function spawnListening(
  args: string[],
  findPort: (printed: string) => number | undefined,
): Promise<ListeningProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  let port: number | undefined;
  while ((port = findPort(printed)) === undefined) {
    const { value, done } = await output.read();
    if (done) {
      const { code } = await child.status;
      throw new Error(`deno ${args.join(" ")} exited with code ${code} before listening`);
    }
    printed += value;
  }
  return { child, port, output };
}
