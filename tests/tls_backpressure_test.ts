/**
 * A TLS client cannot make the server hold what it sends: while the server does not read (its
 * answer is not being read), the TLS port stops reading the socket, as a plain port does.
 */
import assert from "node:assert/strict";
import { encodeRequestHeader, Op } from "../protocol/mod.ts";
import { processMemory } from "../harness/server_process.ts";
import { BackupClient } from "../client/backup_client.ts";
import { spawnServer } from "./_processes.ts";
import { CA, TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;
/** What the attacker tries to push while the server's answer goes unread. */
const FLOOD_BYTES = 256 * MiB;
/** How long one write may wait before the flood counts as held back. */
const STALL_MS = 2000;

Deno.test("a TLS client that sends without reading the answer is held back: server memory stays bounded", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-test-root-" });
  try {
    await using server = await spawnServer([
      "--root",
      root,
      "--port",
      "0",
      "--tls-cert",
      TLS.certFile,
      "--tls-key",
      TLS.keyFile,
    ], { denoFlags: ["--allow-all"] });
    const big = new Uint8Array(32 * MiB).fill(1);
    {
      using client = await BackupClient.connect({
        userId: 5,
        port: server.port,
        tls: true,
        caCerts: [CA],
      });
      await client.backup("big.bin", ReadableStream.from([big]), big.length);
    }
    const before = (await processMemory(server.pid))!.rss;
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    using conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [CA] });
    // The 32 MiB answer is never read: the server blocks writing it, and reads no more requests.
    await conn.write(encodeRequestHeader({ userId: 5, op: Op.Retrieve, name: "big.bin" }));
    const junk = new Uint8Array(256 * 1024).fill(0x41);
    let sent = 0;
    let held = false;
    while (sent < FLOOD_BYTES) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<"stalled">((resolve) => {
        timer = setTimeout(() => resolve("stalled"), STALL_MS);
      });
      const wrote = await Promise.race([conn.write(junk), stalled]);
      clearTimeout(timer);
      if (wrote === "stalled") {
        held = true;
        break;
      }
      sent += wrote;
    }
    const after = (await processMemory(server.pid))!.rss;
    const grewMiB = (after - before) / MiB;
    assert.ok(held, `the server took all ${sent / MiB} MiB without reading them`);
    assert.ok(grewMiB < 96, `server memory grew ${grewMiB.toFixed(0)} MiB after ${sent / MiB} MiB`);
    conn.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
