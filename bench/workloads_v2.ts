/**
 * Protocol version 2 over TLS through the real server process: large transfers with SHA-256 on
 * both sides, and how many authenticated connections it takes per second.
 *
 * @module
 */
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { ClientKey } from "../client/keys.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { formatSshPublicKey } from "../protocol/v2/auth.ts";
import { syntheticSource } from "../harness/bytes.ts";
import { bestOfThree, runFor, type Throughput, timeThroughput } from "./timing.ts";
import { discard, freshServer } from "./workloads.ts";
import { mib, perSecond, ratio, type Row } from "./report.ts";
import { rawTlsConnects, rawTlsLoopback, rawTlsLoopbackToFileSha256 } from "./raw_limits.ts";

/** The test certificate's folder (tests/fixtures/tls): the TLS rows use it on both sides. */
export const TLS_DIR = new URL("../tests/fixtures/tls", import.meta.url).pathname;

/**
 * An Ed25519 key in memory and a users file in `dir` naming it for user 1 (protocol v2), with the
 * server flags that load it and the test certificate, the files those flags read, and the CA a
 * client trusts.
 */
export async function v2Account(dir: string) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const key: ClientKey = {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
    path: "(memory)",
  };
  const users = `${dir}/bench-users.json`;
  await Deno.writeTextFile(
    users,
    JSON.stringify({ users: [{ id: 1, keys: [formatSshPublicKey(key.publicKey)] }] }),
  );
  const cert = `${TLS_DIR}/server-cert.pem`;
  const tlsKey = `${TLS_DIR}/server-key.pem`;
  return {
    key,
    users,
    extra: ["--users", users, "--tls-cert", cert, "--tls-key", tlsKey],
    readable: [users, cert, tlsKey],
    caCerts: [Deno.readTextFileSync(cert)],
  };
}

/** A server with one account over TLS, and a way to connect to it as that account. */
async function v2Server(dir: string) {
  const { key, extra, readable, caCerts } = await v2Account(dir);
  const server = await freshServer(dir, extra, readable);
  const connect = () =>
    BackupClientV2.connect({
      userId: 1,
      key,
      hostname: "127.0.0.1",
      port: server.port,
      tls: true,
      caCerts,
    });
  return { server, connect };
}

/** Large file over protocol v2 and TLS: backup (SHA-256 both sides) then retrieve (checked). */
export async function largeFileV2(dir: string, size: number): Promise<{
  backup: Throughput;
  retrieve: Throughput;
}> {
  const { server, connect } = await v2Server(dir);
  await using _ = server;
  using client = await connect();
  let run = 0;
  const backup = await bestOfThree(() =>
    timeThroughput(size, () => client.backup(`large-${++run}.bin`, syntheticSource(size), size))
  );
  const retrieve = await bestOfThree(() =>
    timeThroughput(size, async () => {
      await client.retrieve(`large-${run}.bin`, discard);
    })
  );
  return { backup, retrieve };
}

/**
 * New authenticated v2 connections per second over TLS, 16 at once: connect, TLS, Hello, Auth, and
 * the cheapest request that proves the session (a retrieve of a name that does not exist).
 */
export async function handshakeRate(dir: string, seconds: number): Promise<number> {
  const { server, connect } = await v2Server(dir);
  await using _ = server;
  const result = await runFor(seconds, 16, async () => {
    using client = await connect();
    await client.retrieve("missing", discard).catch((error) => {
      if (!(error instanceof FileNotFoundError)) throw error;
    });
  });
  return result.count / (result.elapsedMs / 1000);
}

/** The rows of protocol v2 over TLS, with the TLS limits measured in the same run. */
export async function v2Rows(run: {
  dir: string;
  size: number;
  seconds: number;
  /** The plain upload limit (loopback into a durable file). */
  uploadLimit: number;
}) {
  const { dir, size, seconds, uploadLimit } = run;
  const MiB = 2 ** 20;
  const tls = await bestOfThree(() => rawTlsLoopback(size, TLS_DIR));
  const tlsHashed = await bestOfThree(() => rawTlsLoopback(size, TLS_DIR, true));
  const tlsToDisk = await bestOfThree(() => rawTlsLoopbackToFileSha256(dir, size, TLS_DIR));
  const v2 = await largeFileV2(dir, size);
  const tlsConnects = await rawTlsConnects(TLS_DIR, seconds);
  const handshakes = await handshakeRate(dir, seconds);
  const rows: Row[] = [];
  rows.push(
    { what: "raw TLS loopback, Deno to Deno (best of 3)", value: mib(tls.mibPerSecond) },
    {
      what: "raw TLS loopback, receiver hashing SHA-256 (best of 3)",
      value: mib(tlsHashed.mibPerSecond),
    },
    {
      what: "raw TLS loopback into a durable file, SHA-256 on both sides (best of 3)",
      value: mib(tlsToDisk.mibPerSecond),
    },
    {
      what: `v2 backup ${size / MiB} MiB over TLS, SHA-256 both sides (library, best of 3)`,
      value: mib(v2.backup.mibPerSecond),
      limit: mib(uploadLimit),
      ratio: ratio(v2.backup.mibPerSecond, uploadLimit),
    },
    {
      what: "  the same backup against raw TLS into a durable file, SHA-256 on both sides",
      value: mib(v2.backup.mibPerSecond),
      limit: mib(tlsToDisk.mibPerSecond),
      ratio: ratio(v2.backup.mibPerSecond, tlsToDisk.mibPerSecond),
    },
    {
      what: `v2 retrieve ${size / MiB} MiB over TLS, SHA-256 checked (library, best of 3)`,
      value: mib(v2.retrieve.mibPerSecond),
      limit: mib(tls.mibPerSecond),
      ratio: ratio(v2.retrieve.mibPerSecond, tls.mibPerSecond),
    },
    {
      what: "  the same retrieve against raw TLS loopback, receiver hashing SHA-256",
      value: mib(v2.retrieve.mibPerSecond),
      limit: mib(tlsHashed.mibPerSecond),
      ratio: ratio(v2.retrieve.mibPerSecond, tlsHashed.mibPerSecond),
    },
    {
      what: "raw TLS connections (connect, handshake, close), 16 at once",
      value: perSecond(tlsConnects),
    },
    {
      what: "v2 authenticated connections over TLS (+ one request), 16 at once",
      value: perSecond(handshakes),
      limit: perSecond(tlsConnects),
      ratio: ratio(handshakes, tlsConnects),
    },
  );
  const figures = {
    rawTlsLoopbackMibPerSecond: tls.mibPerSecond,
    rawTlsLoopbackSha256MibPerSecond: tlsHashed.mibPerSecond,
    rawTlsLoopbackToDiskSha256MibPerSecond: tlsToDisk.mibPerSecond,
    backupMibPerSecond: v2.backup.mibPerSecond,
    retrieveMibPerSecond: v2.retrieve.mibPerSecond,
    rawTlsConnectsPerSecond16: tlsConnects,
    authenticatedConnectionsPerSecond16: handshakes,
  };

  return { rows, figures, tls, v2 };
}

if (import.meta.main) {
  // `deno run -A bench/workloads_v2.ts [seconds]`: the two connection rows alone, in one run.
  const seconds = Number(Deno.args[0] ?? 3);
  const dir = await Deno.makeTempDir({ prefix: "backup-bench-v2-" });
  try {
    const rawTls = await rawTlsConnects(TLS_DIR, seconds);
    const authenticated = await handshakeRate(dir, seconds);
    console.log(JSON.stringify({
      rawTlsConnectsPerSecond16: rawTls,
      authenticatedConnectionsPerSecond16: authenticated,
      ratio: authenticated / rawTls,
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
