/**
 * Keeps every client and server a bench starts on the caller's Deno cache. The benches give each
 * run a fresh `HOME` (its own keys and config), and Deno's cache (`DENO_DIR`) defaults to one under
 * `HOME`: each run would then compile, the first time, every module its command loads, a cost no
 * installed client pays twice (nor a compiled one, nor restic) and one that falls on whichever
 * command first loads a module (the client loads only its command's modules).
 *
 * @module
 */

/**
 * Sets `DENO_DIR` in this process's environment, unless set already, to the Deno cache this
 * process uses, so that the processes it starts (which inherit it) share it.
 *
 * @throws {Error} if `deno info --json` fails.
 */
export async function pinDenoDir(): Promise<void> {
  if (Deno.env.get("DENO_DIR")) return;
  const output = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  const { denoDir } = JSON.parse(new TextDecoder().decode(output.stdout)) as { denoDir: string };
  Deno.env.set("DENO_DIR", denoDir);
}
