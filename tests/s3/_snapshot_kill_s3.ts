/**
 * Parts of the snapshot kill tests on S3 (`snapshot_kill_test.ts`): `server.ts --storage s3` as a
 * process whose JSON log is read as it comes (through a `HoldProxy` or straight to the bucket),
 * and which blobs a store opened afresh on the prefix has (as a restarted server sees them); the
 * checks are the embedded kill tests' (`../_snapshot_kill_checks.ts`).
 *
 * @module
 */
import { S3Storage } from "../../storage/s3/engine.ts";
import { MAX_MISSING_IDS } from "../../storage/snapshots.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { PROJECT_DIR } from "../_helpers.ts";
import { TLS } from "../_v2.ts";
import { type LoggedPut, type ServerProc, spawnLines, USER_ID } from "../_snapshot_kill.ts";

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
    "--log-blob-requests", // the tests read every put from the log
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
