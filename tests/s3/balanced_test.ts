/**
 * Two S3-backed servers on one bucket behind HAProxy: the protocol's conformance tests through the
 * balancer, what one stores the other serves at once, a SIGKILL of one during uploads (every
 * acknowledged file whole through the other, its unfinished uploads aborted when it comes back),
 * and 64 clients over both.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BackupClient } from "../../client/backup_client.ts";
import { RawClient, utf8 } from "../_helpers.ts";
import { backup, list, protocolConformance, retrieve } from "../_protocol_conformance.ts";
import { decodeList, encodeRequestHeader, Op, Status } from "../../protocol/mod.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import {
  type Balancer,
  balancerSeesUp,
  metricsOf,
  type S3ServerProcess,
  sample,
  startHaproxy,
  startS3Server,
  waitFor,
} from "../../harness/s3_cluster.ts";

const prefix = freshPrefix();
const WHOLE_FILES = ["--no-s3-chunk-files"];
let cluster: { servers: S3ServerProcess[]; balancer: Balancer } | undefined;

async function theCluster() {
  if (!cluster) {
    // Whole files (data objects): this test is about their multipart uploads; a server killed
    // amid chunked uploads is tests/s3/chunked_kill_test.ts.
    const servers = [
      await startS3Server(prefix, { extraArgs: WHOLE_FILES }),
      await startS3Server(prefix, { extraArgs: WHOLE_FILES }),
    ];
    cluster = { servers, balancer: await startHaproxy(servers) };
  }
  return cluster;
}

protocolConformance("two S3 servers behind HAProxy", async () => {
  const { balancer } = await theCluster();
  return { port: balancer.port, [Symbol.asyncDispose]: () => Promise.resolve() };
});

const sanitizers = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "what one server stores, the other lists and serves at once; /healthz answers",
  ...sanitizers,
  async fn() {
    const { servers } = await theCluster();
    using a = await RawClient.connect(servers[0].port);
    using b = await RawClient.connect(servers[1].port);
    for (let i = 0; i < 5; i++) {
      await a.send(backup(40, `shared/${i}`, utf8(`round ${i}`)));
      assert.equal((await a.readResponse()).header.status, Status.Done);
      await b.send(retrieve(40, `shared/${i}`));
      const got = await b.readResponse();
      assert.equal(new TextDecoder().decode(got.payload), `round ${i}`);
      await b.send(list(40));
      assert.equal(decodeList((await b.readResponse()).payload).length, i + 1);
    }
    for (const server of servers) {
      const health = await fetch(`http://127.0.0.1:${server.adminPort}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    }
  },
});

const content = (worker: number, file: number) => {
  // Every fourth file takes the multipart path (over 8 MiB).
  const size = file % 4 === 3 ? 9 * 1024 * 1024 + worker : 1000 + worker * 37 + file;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (worker * 7 + file * 13 + i) & 0xff;
  bytes[size - 1] = worker;
  return bytes;
};
const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test({
  name: "SIGKILL of one server during uploads: every acknowledged file is whole through the other",
  ...sanitizers,
  async fn() {
    const { servers, balancer } = await theCluster();
    const [victim] = servers;
    const workers = 6;
    const filesEach = 8;
    const acknowledged = new Map<string, string>();
    let retries = 0;
    const run = async (worker: number) => {
      for (let file = 0; file < filesEach; file++) {
        const name = `kill/${worker}/${file}`;
        const bytes = content(worker, file);
        for (let attempt = 1;; attempt++) {
          try {
            using client = await BackupClient.connect({ userId: 50, port: balancer.port });
            await client.backup(name, ReadableStream.from([bytes]), bytes.length);
            acknowledged.set(name, digest(bytes));
            break;
          } catch (error) {
            retries++;
            if (attempt === 5) throw error;
            // Cut off by the kill: try again once the balancer has taken the server out.
            await waitFor(
              () => Promise.resolve(!balancerSeesUp(balancer, 0)),
              "the balancer to take the killed server out",
            );
          }
        }
      }
    };
    const running = Array.from({ length: workers }, (_, worker) => run(worker));
    // Kill it while a multipart upload of its own is open, once some files are in.
    const store = new S3Client(testLocation());
    const victimTag = `127_0_0_1_${victim.port}.`;
    const openUploads = async () => {
      const open = [];
      for await (const upload of store.pendingUploads(`${prefix}d/`)) open.push(upload.key);
      return open;
    };
    // An upload that stops half-way holds a multipart upload open on it until it dies.
    using stalled = await RawClient.connect(victim.port);
    const declared = 20 * 1024 * 1024;
    await stalled.send(
      encodeRequestHeader({ userId: 51, op: Op.Backup, name: "stalled", payloadSize: declared }),
    );
    await stalled.send(new Uint8Array(9 * 1024 * 1024));
    await waitFor(async () => {
      if (acknowledged.size < 4) return false;
      return (await openUploads()).some((key) => key.includes(victimTag));
    }, "a multipart upload on the first server");
    await victim.stop("SIGKILL");
    await Promise.all(running);
    assert.equal(acknowledged.size, workers * filesEach);
    assert.ok(retries > 0, "the kill interrupted something");

    using reader = await BackupClient.connect({ userId: 50, port: balancer.port });
    assert.equal(
      (await reader.list()).filter((n) => n.startsWith("kill/")).length,
      acknowledged.size,
    );
    for (const [name, expected] of acknowledged) {
      const chunks: Uint8Array[] = [];
      await reader.retrieve(name, new WritableStream({ write: (c) => void chunks.push(c) }));
      const hash = createHash("sha256");
      for (const chunk of chunks) hash.update(chunk);
      assert.equal(hash.digest("hex"), expected, name);
    }

    // Back on its port, it aborts the multipart uploads it left.
    const restarted = await startS3Server(prefix, {
      port: victim.port,
      adminPort: victim.adminPort,
      extraArgs: WHOLE_FILES,
    });
    servers[0] = restarted;
    assert.deepEqual(await openUploads(), [], "no multipart upload left behind");
    using other = await BackupClient.connect({ userId: 51, port: balancer.port });
    assert.deepEqual(await other.list(), [], "the interrupted upload left nothing visible");
    assert.ok(restarted.log.some((line) => line.includes('"msg":"aborted unfinished uploads"')));
    await waitFor(() => Promise.resolve(balancerSeesUp(balancer, 0)), "the balancer to see it up");
  },
});

Deno.test({
  name: "64 clients over both servers, each file whole, both servers serving",
  ...sanitizers,
  async fn() {
    const { servers, balancer } = await theCluster();
    const before = await Promise.all(servers.map(metricsOf));
    const backups = (metrics: string) =>
      sample(metrics, 'backup_requests_total{op="backup",status="212"}');
    await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      using client = await BackupClient.connect({ userId: 100 + i, port: balancer.port });
      for (let file = 0; file < 3; file++) {
        const bytes = utf8(`client ${i} file ${file} `.repeat(50 + i));
        await client.backup(`f${file}`, ReadableStream.from([bytes]), bytes.length);
      }
      assert.deepEqual(await client.list(), ["f0", "f1", "f2"]);
      const chunks: Uint8Array[] = [];
      await client.retrieve("f2", new WritableStream({ write: (c) => void chunks.push(c) }));
      assert.equal(
        new TextDecoder().decode(chunks.reduce((a, b) => new Uint8Array([...a, ...b]))),
        `client ${i} file 2 `.repeat(50 + i),
      );
    }));
    const after = await Promise.all(servers.map(metricsOf));
    const served = after.map((metrics, i) => backups(metrics) - backups(before[i]));
    assert.equal(served[0] + served[1], 64 * 3);
    assert.ok(served.every((count) => count > 0), `both served backups: ${served}`);
    for (const metrics of after) {
      const puts = sample(
        metrics,
        'backup_storage_request_duration_seconds_count{call="PutObject"}',
      );
      assert.ok(puts > 0, "storage calls are timed");
    }
  },
});

Deno.test({
  name: "stop the servers and the balancer",
  ...sanitizers,
  async fn() {
    if (!cluster) return;
    await cluster.balancer.stop();
    await Promise.all(cluster.servers.map((server) => server.stop()));
  },
});
