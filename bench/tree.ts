/**
 * A home-like tree of 3,000 files backed up and restored through the client CLI, next to
 * `tar c | tar x` of the same tree on the same disk in the same run, and over TLS next to plain TCP
 * (the test certificate of tests/fixtures/tls). `deno task bench` runs it
 * with everything else; `deno run -A bench/tree.ts` runs it alone and prints the times;
 * `deno run -A bench/tree.ts --against DIR` compares this client with the one of the checkout in
 * DIR (first backups, three rounds).
 *
 * @module
 */
import { startServerProcess } from "../harness/server_process.ts";
import { CLIENT_RUN_ARGS } from "./processes.ts";
import { TLS_DIR } from "./workloads_v2.ts";

/** Files of the tree, and how they are spread. */
export const TREE_FILES = 3000;

/**
 * Writes the tree under `dir/tree`: 30 folders of 100 files; most of 1-16 KiB, every tenth of
 * 64-256 KiB, every hundredth of 1-4 MiB (about 150 MiB in all). Resolves its size in bytes.
 */
export async function makeTree(dir: string): Promise<number> {
  let total = 0;
  const chunk = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 31) % 251);
  for (let i = 0; i < TREE_FILES; i++) {
    const folder = `${dir}/tree/d${String(Math.floor(i / 100)).padStart(2, "0")}`;
    if (i % 100 === 0) await Deno.mkdir(folder, { recursive: true });
    const size = i % 100 === 0
      ? 1024 * 1024 * (1 + (i / 100) % 4)
      : i % 10 === 0
      ? 64 * 1024 * (1 + (i / 10) % 4)
      : 1024 * (1 + i % 16);
    await Deno.writeFile(`${folder}/f${i}.bin`, chunk.subarray(i % 1000, i % 1000 + size));
    total += size;
  }
  return total;
}

/**
 * Milliseconds of `tar c -C tree . | tar x -C copy` into a new folder; with `durable`, followed by
 * a `sync` (the copy on disk, as every backup is before its answer).
 */
export async function tarCopy(dir: string, copy: string, durable = false): Promise<number> {
  await Deno.mkdir(`${dir}/${copy}`);
  await settle();
  const started = performance.now();
  const result = await new Deno.Command("bash", {
    args: [
      "-c",
      `tar c -C "${dir}/tree" . | tar x -C "${dir}/${copy}"${durable ? " && sync" : ""}`,
    ],
  }).output();
  if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
  return performance.now() - started;
}

/** What the tree rows measured, in milliseconds. */
export interface TreeTimes {
  tar: number;
  /** tar, then `sync`. */
  tarDurable: number;
  firstBackup: number;
  firstBackupOneJob: number;
  unchangedBackup: number;
  restore: number;
  /** The first backup (`--jobs 4`) over TLS, against a server with the test certificate. */
  tlsBackup: number;
  /** The restore (`--jobs 4`) over TLS. */
  tlsRestore: number;
}

/** The tree through the client CLI (protocol v2 with a key) against a server process. */
export async function treeWorkload(dir: string): Promise<TreeTimes> {
  const cli = async (cwd: string, ...args: string[]) => {
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...CLIENT_RUN_ARGS,
        "--quiet",
        ...args,
      ],
      cwd,
      env: { XDG_CONFIG_HOME: `${dir}/config`, HOME: dir },
      stdin: "null",
    }).output();
    if (!output.success && output.code !== 4) {
      throw new Error(new TextDecoder().decode(output.stderr));
    }
    return performance.now() - started;
  };
  await cli(dir, "keygen");
  // Best of three, each into a new folder, as the backups are each measured on a settled disk.
  const tar = Math.min(
    await tarCopy(dir, "tar-copy-1"),
    await tarCopy(dir, "tar-copy-2"),
    await tarCopy(dir, "tar-copy-3"),
  );
  const tarDurable = Math.min(
    await tarCopy(dir, "tar-durable-1", true),
    await tarCopy(dir, "tar-durable-2", true),
    await tarCopy(dir, "tar-durable-3", true),
  );
  const times: Partial<TreeTimes> = { tar, tarDurable };
  const cert = `${TLS_DIR}/server-cert.pem`;
  const tlsFlags = ["--tls-cert", cert, "--tls-key", `${TLS_DIR}/server-key.pem`];
  const runs = [["firstBackupOneJob", "1"], ["firstBackup", "4"], ["tlsBackup", "4"]] as const;
  for (const [key, jobs] of runs) {
    const root = await Deno.makeTempDir({ dir, prefix: "root-" });
    const tls = key === "tlsBackup";
    const server = await startServerProcess(
      root,
      ["--quiet", ...(tls ? tlsFlags : [])],
      tls ? [TLS_DIR] : [],
    );
    try {
      const at = [`--server=127.0.0.1:${server.port}`, "--user=1", `--jobs=${jobs}`];
      if (tls) at.push(`--ca=${cert}`);
      await settle();
      times[key] = await cli(dir, ...at, "backup", "tree");
      if (key === "firstBackup") {
        times.unchangedBackup = await cli(dir, ...at, "backup", "tree");
        await settle();
        times.restore = await cli(dir, ...at, "restore", "tree/", "-o", "restored");
      }
      if (tls) {
        await settle();
        times.tlsRestore = await cli(dir, ...at, "restore", "tree/", "-o", "restored-tls");
      }
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  }
  return times as TreeTimes;
}

/** Writes back what earlier steps left dirty, so that each measure starts on a settled disk. */
async function settle(): Promise<void> {
  await new Deno.Command("sync").output();
}

/** The tree's rows: tar, then the client CLI against it. */
export async function treeRows(dir: string) {
  const MiB = 2 ** 20;
  const rows: Array<{ what: string; value: string; limit?: string; ratio?: string }> = [];
  const treeDir = await Deno.makeTempDir({ dir, prefix: "tree-" });
  const treeBytes = await makeTree(treeDir);
  const tree = await treeWorkload(treeDir);
  const times = (ms: number) => `${ms.toFixed(0)} ms`;
  const slower = (ms: number) => `${(ms / tree.tar).toFixed(1)}×`;
  rows.push(
    {
      what: `tar c piped into tar x, a ${TREE_FILES}-file tree (${
        (treeBytes / MiB).toFixed(0)
      } MiB, best of 3)`,
      value: times(tree.tar),
    },
    {
      what: "  first backup of the tree (client CLI, v2, --jobs 4), times tar",
      value: times(tree.firstBackup),
      limit: times(tree.tar),
      ratio: slower(tree.firstBackup),
    },
    {
      what: "  first backup of the tree (client CLI, v2, --jobs 1), times tar",
      value: times(tree.firstBackupOneJob),
      limit: times(tree.tar),
      ratio: slower(tree.firstBackupOneJob),
    },
    { what: "  second backup, nothing changed", value: times(tree.unchangedBackup) },
    {
      what: "  tar c piped into tar x, then sync (a durable copy), best of 3",
      value: times(tree.tarDurable),
    },
    {
      what: "  first backup (--jobs 4) against the durable copy",
      value: times(tree.firstBackup),
      limit: times(tree.tarDurable),
      ratio: `${(tree.firstBackup / tree.tarDurable).toFixed(1)}×`,
    },
    {
      what: "  restore of the tree (client CLI, v2, --jobs 4), times tar",
      value: times(tree.restore),
      limit: times(tree.tar),
      ratio: slower(tree.restore),
    },
    // TLS against plain TCP in the same run: the issue asks for 1.3× at most.
    {
      what: "  first backup over TLS (--jobs 4), times the same over plain TCP",
      value: times(tree.tlsBackup),
      limit: times(tree.firstBackup),
      ratio: `${(tree.tlsBackup / tree.firstBackup).toFixed(2)}×`,
    },
    {
      what: "  restore over TLS (--jobs 4), times the same over plain TCP",
      value: times(tree.tlsRestore),
      limit: times(tree.restore),
      ratio: `${(tree.tlsRestore / tree.restore).toFixed(2)}×`,
    },
  );
  const figures = { bytes: treeBytes, ...tree };

  return { rows, figures };
}

/**
 * First backups of the tree by the client CLI of another checkout (`git worktree add DIR REV`)
 * and by this one (v1 and v2, default jobs), each against a fresh server of this checkout, in
 * turn: how much faster this client is than an earlier one, in one run.
 */
export async function againstCheckout(
  dir: string,
  checkout: string,
): Promise<Record<string, number>> {
  const backup = async (client: string, ...flags: string[]) => {
    const root = await Deno.makeTempDir({ dir, prefix: "root-" });
    const server = await startServerProcess(root, ["--quiet"]);
    try {
      await settle();
      const started = performance.now();
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          client,
          "--quiet",
          `--server=127.0.0.1:${server.port}`,
          "--user=1",
          "backup",
          "tree",
          ...flags,
        ],
        cwd: dir,
        env: { XDG_CONFIG_HOME: `${dir}/config`, HOME: dir },
        stdin: "null",
      }).output();
      if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
      return performance.now() - started;
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  };
  const here = new URL("../client.ts", import.meta.url).pathname;
  return {
    earlierClient: await backup(`${checkout}/client.ts`),
    thisClientV1: await backup(here, "--v1"),
    thisClientV2: await backup(here),
  };
}

if (import.meta.main) {
  const against = Deno.args[0] === "--against" ? Deno.args[1] : undefined;
  const dir = await Deno.makeTempDir({ prefix: "backup-tree-" });
  try {
    const bytes = await makeTree(dir);
    if (against) {
      const keygen = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../client.ts", import.meta.url).pathname, "keygen"],
        env: { XDG_CONFIG_HOME: `${dir}/config`, HOME: dir },
      }).output();
      if (!keygen.success) throw new Error("keygen failed");
      for (let round = 1; round <= 3; round++) {
        console.log(JSON.stringify({ round, ...await againstCheckout(dir, against) }));
      }
    } else {
      console.log(JSON.stringify({ files: TREE_FILES, bytes, ...await treeWorkload(dir) }));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
