/**
 * A server for the snapshot kill tests (test-only): `deno run … tests/_snapshot_kill_server.ts
 * ROOT USERS STEP PACK_BYTES` serves the embedded engine on ROOT (packs cut at PACK_BYTES) over TLS
 * (tests/fixtures/tls) with the accounts of USERS on a free port of 127.0.0.1, logging JSON lines
 * on stdout as `server.ts --log-format=json` does, "listening" first. When a snapshot's commit
 * first reaches STEP (`packs-durable` or `durable`, see `SnapshotCommitStep`) it logs `paused` and
 * waits there for a line on its standard input (then goes on), or for the SIGKILL.
 *
 * server.ts has no flag for this hook on purpose: it exists only to stop a commit where a crash
 * test wants it.
 */
import { Access } from "../server/access.ts";
import { createLogger } from "../server/log.ts";
import { startServer } from "../server/server.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import type { SnapshotCommitStep } from "../storage/embedded/options.ts";

const [root, usersFile, step, packBytes] = Deno.args;
const tlsDir = new URL("./fixtures/tls/", import.meta.url).pathname;
const logger = createLogger({ format: "json", blobRequests: true });
let paused = false;

/** Resolves once a line (or the end) arrives on standard input. */
async function released(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done || value.includes(0x0a)) return;
    }
  } finally {
    reader.releaseLock();
  }
}

const { storage } = await EmbeddedStorage.open({
  root,
  packTargetBytes: Number(packBytes),
  onSnapshotCommitStep: async (at: SnapshotCommitStep) => {
    if (at !== step || paused) return;
    paused = true;
    logger.notice("paused", { step: at });
    await released();
  },
});
const server = await startServer({
  storage,
  access: await Access.load({ usersFile }, logger),
  hostname: "127.0.0.1",
  port: 0,
  tls: { certFile: `${tlsDir}server-cert.pem`, keyFile: `${tlsDir}server-key.pem` },
  logger,
});
logger.notice("listening", { address: `127.0.0.1:${server.addr.port}` });
