/** Starting the benchmark's helper processes. */
import { spawnListening } from "../harness/spawn.ts";

/** A helper process that printed its port. */
export interface PeerProcess extends AsyncDisposable {
  port: number;
}

/**
 * Starts `bench/peer.ts` in `mode` with its arguments (`disk DIR`, `disk-sha256 DIR`, `file DIR`, `read DIR SIZE`);
 * resolves once it listens.
 */
export async function startPeer(
  mode:
    | "sink"
    | "pong"
    | "disk"
    | "disk-sha256"
    | "file"
    | "read"
    | "tls-sink"
    | "tls-sink-sha256"
    | "tls-disk-sha256",
  dir?: string,
  ...more: string[]
): Promise<PeerProcess> {
  const { child, port, output } = await spawnListening(
    [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      // The TLS sinks only read their certificate and key; the others write their files.
      ...(dir ? [`--allow-read=${[dir, ...more].join(",")}`] : []),
      ...(dir && !mode.startsWith("tls-sink") ? [`--allow-write=${dir}`] : []),
      new URL("./peer.ts", import.meta.url).pathname,
      mode,
      ...(dir ? [dir, ...more] : []),
    ],
    (printed) => printed.includes("\n") ? Number(printed.trim()) : undefined,
  );
  output.cancel();
  return {
    port,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/** `deno` arguments that run the client CLI of `checkout` with what the benchmark's files need. */
export function clientRunArgs(checkout = new URL("..", import.meta.url).pathname): string[] {
  return [
    "run",
    "--quiet",
    "--allow-read",
    "--allow-write",
    "--allow-net=127.0.0.1",
    "--allow-env",
    `${checkout.replace(/\/$/, "")}/client.ts`,
  ];
}

/** `deno` arguments that run the client CLI with what it needs for the benchmark's files. */
export const CLIENT_RUN_ARGS: string[] = clientRunArgs();

/** `deno run` arguments scoped as a server on `root` runs: its root, 127.0.0.1, no prompt. */
export function serverRunArgs(root: string): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    `--allow-read=${root}`,
    `--allow-write=${root}`,
    "--allow-net=127.0.0.1",
  ];
}
