/**
 * Parts of the snapshot kill tests on S3 (`snapshot_kill_test.ts`): `server.ts --storage s3` as a
 * process whose JSON log is read as it comes (through a `HoldProxy` or straight to the bucket),
 * which blobs a store opened afresh on the prefix has (as a restarted server sees them), and the
 * checks the embedded kill tests make (`../snapshot_kill_test.ts`), over any server process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { S3Storage } from "../../storage/s3/engine.ts";
import { MAX_MISSING_IDS } from "../../storage/snapshots.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { PROJECT_DIR } from "../_helpers.ts";
import { TLS } from "../_v2.ts";
import {
  diffR,
  jsonLines,
  type KillWorkspace,
  type LineProcess,
  type LoggedPut,
  putsIn,
  type ServerProc,
  spawnLines,
  USER_ID,
} from "../_snapshot_kill.ts";

/** Trees a run sends (compressed, about 25 KiB for the trees here), allowed per run. */
export const TREE_SLACK = 64 * 1024;

/** The bytes of `puts`. */
export const sum = (puts: LoggedPut[]): number => puts.reduce((total, put) => total + put.bytes, 0);
/** The puts the server answered 231 (taken). */
export const acked = (puts: LoggedPut[]): LoggedPut[] => puts.filter((put) => put.status === 231);

/**
 * `server.ts --storage s3` on the test bucket under `prefix`, over TLS with the accounts of
 * `usersFile`, its store reached at `endpoint` (a proxy's, or the bucket's by default). It may
 * read the users and TLS files and reach loopback and the store, nothing else.
 */
export async function startS3ServerProc(
  prefix: string,
  usersFile: string,
  endpoint = testLocation().endpoint,
): Promise<ServerProc> {
  const location = testLocation();
  const proc = spawnLines(`${PROJECT_DIR}/server.ts`, [
    "--log-format=json",
    "--storage=s3",
    `--s3-endpoint=${endpoint}`,
    `--s3-bucket=${location.bucket}`,
    `--s3-prefix=${prefix}`,
    "--s3-path-style",
    "--port=0",
    `--users=${usersFile}`,
    `--tls-cert=${TLS.certFile}`,
    `--tls-key=${TLS.keyFile}`,
  ], {
    flags: [
      `--allow-net=127.0.0.1,${new URL(location.endpoint).host}`,
      "--allow-env=AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_SESSION_TOKEN",
      `--allow-read=${usersFile},${TLS.certFile},${TLS.keyFile}`,
    ],
  });
  const line = await proc.waitFor((line) => line.msg === "listening");
  if (!line) throw new Error(`the server did not start: ${(await proc.ended).stderr}`);
  return {
    ...proc,
    port: Number(String(line.address).split(":").at(-1)),
    release: () => Promise.reject(new Error("server.ts reads no standard input")),
  };
}

/** Which of the blobs `puts` a store opened afresh on `prefix` has (a restarted server's view). */
export async function storedOf(prefix: string, puts: LoggedPut[]): Promise<Set<string>> {
  const { storage } = await S3Storage.open({
    location: testLocation(),
    prefix,
    serverTag: `kill-check-${crypto.randomUUID().slice(0, 8)}`,
    chunkFiles: true,
    pruneIntervalMs: 0,
  });
  const had = new Set<string>();
  try {
    const session = storage.snapshots!.openSession(USER_ID);
    try {
      for (let at = 0; at < puts.length; at += MAX_MISSING_IDS) {
        const batch = puts.slice(at, at + MAX_MISSING_IDS);
        const missing = await session.missing(batch.map((put) => Uint8Array.fromHex(put.id)));
        batch.forEach((put, i) => missing[i] || had.add(put.id));
      }
    } finally {
      await session.close();
    }
  } finally {
    await storage.close();
  }
  return had;
}

/** A server log line `match` or the client's end, whichever comes first; fails on the latter. */
export async function killPoint(
  server: LineProcess,
  client: LineProcess,
  match: (line: Record<string, unknown>) => boolean,
  from: number,
  what: string,
): Promise<void> {
  const reached = await Promise.race([
    server.waitFor(match, from).then((line) => line !== undefined),
    client.ended.then(() => false),
  ]);
  assert.ok(reached, `the client ended before ${what}`);
}

/** Kills the client; it must have died of it, not finished. */
export async function killClient(client: LineProcess): Promise<void> {
  const { status } = await client.kill();
  assert.equal(status.signal, "SIGKILL", "the client was still running");
  assert.ok(!client.lines.some((line) => line.ok === true), "no snapshot was reported");
}

/** The snapshots `server` lists; each one restores byte for byte. Resolves their ids. */
export async function wholeSnapshots(k: KillWorkspace, server: ServerProc): Promise<string[]> {
  const list = await k.client(server, "snapshots", "--json");
  assert.equal(list.code, 0, list.stderr);
  const ids: string[] = JSON.parse(list.stdout).map((entry: { id: string }) => entry.id);
  for (const id of ids) {
    const target = `${k.w.dir}/restored-${id.slice(0, 8)}`;
    const restore = await k.client(server, "restore", `${id}:${k.src}`, "--target", target);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await diffR(k.src, target), { code: 0, out: "" }, `snapshot ${id}`);
    await Deno.remove(target, { recursive: true });
  }
  return ids;
}

/** A backup run to its end; resolves its result line and the blobs it put (all taken). */
export async function completeRun(
  k: KillWorkspace,
  server: ServerProc,
): Promise<{ result: Record<string, unknown>; puts: LoggedPut[] }> {
  const from = server.lines.length;
  const run = await k.client(server, "backup", k.src, "--host=h", "--json");
  assert.equal(run.code, 0, run.stderr);
  const result = jsonLines(run.stdout).find((line) => line.op === "backup" && line.ok)!;
  assert.ok(result, run.stdout);
  // The run's last answer was logged before the client read it: every put is in the log now.
  const puts = putsIn(server.lines, from);
  assert.ok(puts.every((put) => put.status === 231), "every blob of the run was taken");
  return { result, puts };
}

/** No blob of `puts` is in `had`, and none is put twice. */
export function assertNoResend(had: Set<string>, puts: LoggedPut[]): void {
  const again = puts.filter((put) => had.has(put.id));
  assert.deepEqual(again.map((put) => put.id), [], `${again.length} blob(s) the server had`);
  assert.equal(new Set(puts.map((put) => put.id)).size, puts.length, "a blob put twice in a run");
}
