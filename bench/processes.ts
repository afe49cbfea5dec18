/** Starting the benchmark's helper processes. */

/** A helper process that printed its port. */
export interface PeerProcess extends AsyncDisposable {
  port: number;
}

/**
 * Starts `bench/peer.ts` in `mode` with its arguments (`disk DIR`, `file DIR`, `read DIR SIZE`);
 * resolves once it listens.
 */
export async function startPeer(
  mode: "sink" | "pong" | "disk" | "file" | "read",
  dir?: string,
  ...more: string[]
): Promise<PeerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      ...(dir ? [`--allow-read=${dir}`, `--allow-write=${dir}`] : []),
      new URL("./peer.ts", import.meta.url).pathname,
      mode,
      ...(dir ? [dir, ...more] : []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("peer exited before listening");
    text += value;
  }
  reader.cancel();
  return {
    port: Number(text.trim()),
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}
