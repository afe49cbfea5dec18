/**
 * A port cannot be shut by using up the server's descriptors: accepts that fail for want of them
 * are waited out and retried, on the plain and the TLS port, and `/healthz` says 503 while a port
 * cannot accept; sockets whose TLS handshake timed out give their descriptor back.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { eventually, RawClient, startTestServer } from "./_helpers.ts";
import { freePort, spawnServer } from "./_processes.ts";
import { CA, TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Descriptors a process has open (through `ls`: Deno reads another process's /proc only with -A). */
async function openDescriptors(pid: number | "self"): Promise<number> {
  const listed = await new Deno.Command("ls", {
    args: ["-1", `/proc/${pid === "self" ? Deno.pid : pid}/fd`],
  })
    .output();
  return new TextDecoder().decode(listed.stdout).split("\n").filter(Boolean).length;
}

/** An HTTP/1.1 connection kept open, so that requests need no new descriptor on the server. */
class KeptHttp implements Disposable {
  #buffered = "";
  private constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<KeptHttp> {
    return new KeptHttp(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    await this.conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: admin\r\n\r\n`));
    const decoder = new TextDecoder();
    const chunk = new Uint8Array(4096);
    for (;;) {
      const end = this.#buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = this.#buffered.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.#buffered.length >= end + 4 + length) {
          const body = this.#buffered.slice(end + 4, end + 4 + length);
          this.#buffered = this.#buffered.slice(end + 4 + length);
          return { status: Number(head.split(" ")[1]), body };
        }
      }
      const read = await this.conn.read(chunk);
      if (read === null) throw new Error("the admin port closed the connection");
      this.#buffered += decoder.decode(chunk.subarray(0, read));
    }
  }

  [Symbol.dispose](): void {
    this.conn.close();
  }
}

/** Resolves `promise`, or rejects with `what` after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Serves the port of `server` once: a v1 list over plain TCP, a TLS handshake over TLS. */
async function served(port: number, tls: boolean): Promise<void> {
  if (!tls) {
    using client = await BackupClient.connect({ userId: 3, port });
    assert.deepEqual(await client.list(), []);
    return;
  }
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  using conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [CA] });
  await conn.handshake();
}

for (const tls of [false, true]) {
  const port = tls ? "TLS port" : "plain port";
  Deno.test(`out of descriptors, the ${port} backs off and accepts again; /healthz says 503 meanwhile`, async () => {
    await outOfDescriptors(tls);
  });
}

async function outOfDescriptors(tls: boolean): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "backup-test-emfile-" });
  const root = `${dir}/root`;
  const tlsArgs = tls ? ["--tls-cert", TLS.certFile, "--tls-key", TLS.keyFile] : [];
  const server = await spawnServer(
    [
      "--root",
      root,
      "--port",
      "0",
      "--admin-listen",
      `127.0.0.1:${freePort()}`,
      "--idle-timeout",
      "60",
      ...tlsArgs,
    ],
    {
      denoFlags: [
        `--allow-read=${[root, ...(tls ? [TLS.certFile, TLS.keyFile] : [])].join(",")}`,
        `--allow-write=${root}`,
        "--allow-net=127.0.0.1",
      ],
    },
  );
  const held: Deno.Conn[] = [];
  try {
    const adminPort = Number(String(server.startup.adminAddress).split(":").at(-1));
    using admin = await KeptHttp.connect(adminPort);
    assert.equal((await admin.get("/healthz")).status, 200);
    // Leave the server a few descriptors, then connect more sockets than it has left.
    const limit = await openDescriptors(server.pid) + 6;
    const prlimit = await new Deno.Command("prlimit", {
      args: ["--pid", String(server.pid), `--nofile=${limit}:${limit}`],
    }).output();
    assert.ok(prlimit.success, new TextDecoder().decode(prlimit.stderr));
    for (let i = 0; i < 16; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    const line = await within(
      20_000,
      "a log line about the failed accept",
      server.waitForLine((entry) => /^accept /.test(String(entry.msg))),
    );
    assert.equal(line?.msg, "accept failed; retrying", JSON.stringify(line));
    assert.match(String(line?.error), /Too many open files/);
    const health = await admin.get("/healthz");
    assert.equal(health.status, 503, "a port that cannot accept is not healthy");
    assert.match(health.body, /cannot accept: Too many open files/);
    for (const conn of held.splice(0)) conn.close();
    // Once descriptors are free again, the same port serves new clients.
    await within(
      20_000,
      "a client served after the descriptors came back",
      served(server.port, tls),
    );
    await within(
      10_000,
      "/healthz back to 200",
      (async () => {
        while ((await admin.get("/healthz")).status !== 200) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })(),
    );
    // The admin port, which ran out of descriptors too, accepts new connections again.
    const fresh = await within(
      10_000,
      "/healthz on a new connection",
      fetch(`http://127.0.0.1:${adminPort}/healthz`),
    );
    assert.equal(fresh.status, 200);
    await fresh.body?.cancel();
  } finally {
    for (const conn of held) conn.close();
    const stopped = await server.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "a TLS handshake that times out closes its socket: the descriptor is freed, the peer sees FIN",
  // Fails with Deno.listenTls (fcbb332): a socket whose handshake is pending cannot be closed
  // (its handshake task keeps it until the peer sends or closes).
  fn: async () => {
    await using t = await startTestServer({ tls: TLS, limits: { frameTimeoutMs: 200 } });
    const before = await openDescriptors("self");
    const stalled: RawClient[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const client = await RawClient.connect(t.port);
        await client.send(new Uint8Array([0x16, 0x03, 0x01])); // 3 bytes of a ClientHello
        stalled.push(client);
      }
      const timeouts = () =>
        t.logs.filter((line) => JSON.parse(line).reason === "TLS handshake timeout").length;
      await eventually(() => Promise.resolve(timeouts() === 20), "20 handshake timeouts");
      for (const client of stalled) {
        assert.ok(await within(5000, "FIN from the server", client.isClosedByServer()));
      }
      // Our 20 sockets remain; the server's 20 must be gone.
      await eventually(
        async () => await openDescriptors("self") <= before + 20 + 2,
        `the server's descriptors freed (${before} open before)`,
      );
    } finally {
      for (const client of stalled) client[Symbol.dispose]();
    }
  },
});

Deno.test("a TLS connection refused past the per-address cap is closed even if it never finishes its handshake", async () => {
  await using t = await startTestServer({
    tls: TLS,
    limits: { maxConnectionsPerAddress: 1, frameTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
  });
  using _holder = await RawClient.connect(t.port); // takes the address's one slot
  await eventually(() => Promise.resolve(t.server.connectionCount === 1), "the slot taken");
  const refused: RawClient[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const client = await RawClient.connect(t.port);
      await client.send(new Uint8Array([0x16, 0x03, 0x01])); // 3 bytes of a ClientHello
      refused.push(client);
    }
    // The refusal's 1003 waits on a handshake that never comes: the socket still goes.
    for (const client of refused) {
      assert.ok(await within(5000, "FIN from the server", client.isClosedByServer()));
    }
  } finally {
    for (const client of refused) client[Symbol.dispose]();
  }
});
