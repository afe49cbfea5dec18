/**
 * `deno run -A bench/compare.ts [--runs N] [--dir DIR] [--clients N] WORKLOAD CHECKOUT...`: one
 * workload against the server of each checkout (a folder holding this project, e.g. a `git worktree` of an older
 * commit), alternating, so that a change is measured against what came before within the same
 * minutes. Workloads: `small-backup` (64 clients unless `--clients`, 4 KiB backups, 3 s),
 * `small-retrieve` (16 clients unless `--clients`, 4 KiB files each read twice before, 3 s),
 * `large-backup` (one 1 GiB backup through the library).
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { BackupClient } from "../client/backup_client.ts";
import type { ByteSink } from "../io/byte_stream.ts";
import { syntheticSource } from "../harness/bytes.ts";
import { spawnListening } from "../harness/spawn.ts";

const { values, positionals } = taskArgs(
  "compare",
  "deno run -A bench/compare.ts [--runs N] [--dir DIR] [--clients N] WORKLOAD CHECKOUT...\n\nRuns WORKLOAD (small-backup, small-retrieve, large-backup) against each CHECKOUT in turn, --runs\ntimes, and prints the figures side by side.",
  { runs: { type: "string" }, dir: { type: "string" }, clients: { type: "string" } },
  true,
);
const [workload, ...checkouts] = positionals;
const WORKLOADS = ["small-backup", "small-retrieve", "large-backup"];
if (!WORKLOADS.includes(workload) || checkouts.length === 0) {
  console.error(
    `usage: compare.ts [--runs N] [--dir DIR] [--clients N] ${WORKLOADS.join("|")} CHECKOUT...`,
  );
  Deno.exit(2);
}
const discard: ByteSink = { write: (bytes) => Promise.resolve(bytes.length) };

/** Starts `server.ts` of `checkout` on a fresh root; resolves its port and a stop function. */
async function serverOf(checkout: string) {
  const root = await Deno.makeTempDir({ dir: values.dir, prefix: "compare-root-" });
  const { child, port } = await spawnListening(
    [
      "run",
      "--quiet",
      `--allow-read=${root}`,
      `--allow-write=${root}`,
      "--allow-net=127.0.0.1",
      `${checkout}/server.ts`,
      ...["--root", root, "--port", "0", "--log-format", "json", "--quiet"],
    ],
    (printed) => Number(/"address":"127\.0\.0\.1:(\d+)"/.exec(printed)?.[1]) || undefined,
  );
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** Runs `work` on each client until `seconds` pass; resolves operations per second. */
async function perSecond(clients: BackupClient[], seconds: number, work: Work): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(clients.map(async (client) => {
    for (let n = 0; performance.now() < end; n++, count++) await work(client, n);
  }));
  return count / seconds;
}
type Work = (client: BackupClient, n: number) => Promise<unknown>;

async function measure(checkout: string): Promise<string> {
  const server = await serverOf(checkout);
  const connect = (i: number) => BackupClient.connect({ userId: 100 + i, port: server.port });
  try {
    if (workload === "large-backup") {
      using client = await connect(0);
      const size = 1024 * 2 ** 20;
      const started = performance.now();
      await client.backup("large", syntheticSource(size), size);
      return `${(1024 / ((performance.now() - started) / 1000)).toFixed(0)} MiB/s`;
    }
    const small = new Uint8Array(4096).fill(3);
    const clients = await Promise.all(
      Array.from(
        { length: Number(values.clients ?? (workload === "small-backup" ? 64 : 16)) },
        (_, i) => connect(i),
      ),
    );
    try {
      const backup = (client: BackupClient, n: number) =>
        client.backup(`f${n % 20}`, ReadableStream.from([small]), small.length);
      if (workload === "small-backup") {
        return `${(await perSecond(clients, 3, backup)).toFixed(0)}/s`;
      }
      await Promise.all(clients.map(async (client) => {
        for (let n = 0; n < 20; n++) {
          await backup(client, n);
          await client.retrieve(`f${n}`, discard);
        }
      }));
      // An lstat-checked cache of earlier checkouts admits a file 3 s after it was first read.
      await new Promise((resolve) => setTimeout(resolve, 3100));
      const retrieve = (client: BackupClient, n: number) => client.retrieve(`f${n % 20}`, discard);
      return `${(await perSecond(clients, 3, retrieve)).toFixed(0)}/s`;
    } finally {
      for (const client of clients) client.close();
    }
  } finally {
    await server.stop();
  }
}

for (let run = 1; run <= Number(values.runs ?? 3); run++) {
  for (const checkout of checkouts) {
    console.log(`${workload} ${checkout} run ${run}: ${await measure(checkout)}`);
  }
}
