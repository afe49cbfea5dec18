/**
 * The S3 bench's snapshot row (`bench/s3.ts`): accounts with Ed25519 keys made in memory (a users
 * file for the server), and clients that each back up, again and again, a new folder of small
 * random files as one snapshot through the archiver library (`backupSnapshot` on a `SessionV3`, in
 * this process: no client process per run), as many at once as there are accounts.
 *
 * @module
 */
import type { ClientKey } from "../client/keys.ts";
import { SessionV3 } from "../client/session_v3.ts";
import { backupSnapshot } from "../client/snapshot/snapshot_backup.ts";
import { startS3Server } from "../harness/s3_cluster.ts";
import { freshPrefix } from "../harness/s3_location.ts";
import { formatSshPublicKey } from "../protocol/v2/auth.ts";
import { runFor, type RunResult } from "./timing.ts";

/** An account of the bench: its id and its key. */
export interface BenchAccount {
  userId: number;
  key: ClientKey;
}

/**
 * `count` accounts numbered from `firstId`, each with a new key (never written to disk), and the
 * users file that names them, written to `usersFile`.
 */
export async function writeAccounts(
  usersFile: string,
  options: { count: number; firstId: number },
): Promise<BenchAccount[]> {
  const accounts: BenchAccount[] = [];
  const users = [];
  for (let i = 0; i < options.count; i++) {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const userId = options.firstId + i;
    accounts.push({ userId, key: { privateKey: pair.privateKey, publicKey, path: "(memory)" } });
    users.push({
      id: userId,
      name: `bench${userId}`,
      keys: [formatSshPublicKey(publicKey, `bench${userId}`)],
    });
  }
  await Deno.writeTextFile(usersFile, JSON.stringify({ users }));
  return accounts;
}

/** What `snapshotBackups` is told. */
export interface SnapshotBackupsOptions {
  /** The server's port on 127.0.0.1 (plain TCP). */
  port: number;
  accounts: BenchAccount[];
  /** Where the folders are written (each removed once backed up). */
  dir: string;
  /** Files per folder, so per snapshot. */
  files: number;
  /** Bytes of each file. */
  fileBytes: number;
  seconds: number;
}

/** What `snapshotBackups` measured. */
export interface SnapshotBackupsResult {
  /** Snapshots committed and the timed span (`latencies`: see `runLatencies`). */
  runs: RunResult;
  /** Each backup run's time, ms, sorted: list, archive, commit (not the next folder's writing). */
  runLatencies: number[];
  /** Files in the snapshots committed. */
  files: number;
  /** From the commit sent to the snapshot made, ms, sorted. */
  commitLatencies: number[];
}

/**
 * Each account's client backs up a new folder of `files` random files (nothing dedups or
 * compresses) as one snapshot, then the next, for `seconds`, all accounts at once. Each account
 * makes one snapshot first, untimed (its session opened, the server's first touch of the user
 * behind it). The next folder is written while the current one is backed up, so the clients
 * always have one ready: its writing shares the machine with the run, as a client's own disk
 * would.
 *
 * @throws what the sessions and the archiver throw.
 */
export async function snapshotBackups(
  options: SnapshotBackupsOptions,
): Promise<SnapshotBackupsResult> {
  const { accounts, dir, files, fileBytes } = options;
  const sessions = await Promise.all(
    accounts.map(({ userId, key }) =>
      SessionV3.connect({ hostname: "127.0.0.1", port: options.port, userId, key })
    ),
  );
  try {
    let folders = 0;
    const writeFolder = async () => {
      const path = `${dir}/run-${folders++}`;
      await Deno.mkdir(path);
      for (let i = 0; i < files; i++) {
        await Deno.writeFile(`${path}/f${i}`, crypto.getRandomValues(new Uint8Array(fileBytes)));
      }
      return path;
    };
    const runLatencies: number[] = [];
    const commitLatencies: number[] = [];
    const backup = async (worker: number, path: string) => {
      const started = performance.now();
      let committing = 0;
      await backupSnapshot(sessions[worker], [path], {
        host: "bench",
        user: "bench",
        archive: { scan: false, ownerNames: false },
        onCommitting: () => committing = performance.now(),
      });
      const done = performance.now();
      runLatencies.push(done - started);
      commitLatencies.push(done - committing);
      await Deno.remove(path, { recursive: true });
    };
    const next = await Promise.all(accounts.map(() => writeFolder()));
    await Promise.all(next.map((path, worker) => backup(worker, path)));
    runLatencies.length = 0;
    commitLatencies.length = 0;
    for (let worker = 0; worker < accounts.length; worker++) next[worker] = await writeFolder();
    const runs = await runFor(options.seconds, accounts.length, async (worker) => {
      const path = next[worker];
      const writing = writeFolder();
      try {
        await backup(worker, path);
      } finally {
        next[worker] = await writing;
      }
    });
    runLatencies.sort((a, b) => a - b);
    commitLatencies.sort((a, b) => a - b);
    return { runs, files: runs.count * files, runLatencies, commitLatencies };
  } finally {
    await Promise.all(sessions.map((session) => session.close()));
  }
}

/** What `s3SnapshotBackups` is told. */
export interface S3SnapshotOptions {
  /** Clients, each its own account. */
  clients: number;
  /** Files per snapshot. */
  files: number;
  fileBytes: number;
  seconds: number;
}

/**
 * `snapshotBackups` against a server process of its own on a fresh prefix of the test bucket,
 * with a users file of `clients` accounts (ids from 1000), over plain TCP as the other rows.
 *
 * @throws what `startS3Server` and `snapshotBackups` throw.
 */
export async function s3SnapshotBackups(
  options: S3SnapshotOptions,
): Promise<SnapshotBackupsResult> {
  const dir = await Deno.makeTempDir({ prefix: "bench-s3-snapshots-" });
  try {
    const usersFile = `${dir}/users.json`;
    const accounts = await writeAccounts(usersFile, { count: options.clients, firstId: 1000 });
    const server = await startS3Server(freshPrefix(), { usersFile });
    try {
      await Deno.mkdir(`${dir}/folders`);
      return await snapshotBackups({
        ...options,
        port: server.port,
        accounts,
        dir: `${dir}/folders`,
      });
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
