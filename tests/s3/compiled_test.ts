/** The server as `deno task compile --s3-endpoint …` builds it: its permissions and built-in flags. */
import assert from "node:assert/strict";
import { compileArgs } from "../../tools/compile_flags.ts";
import { BackupClient } from "../../client/backup_client.ts";
import { freePort } from "../../harness/s3_cluster.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { spawnServer } from "../_processes.ts";

Deno.test("built for S3, the server runs with no file access and serves from the bucket", async () => {
  const location = testLocation();
  const port = freePort();
  const admin = `127.0.0.1:${freePort()}`;
  const args = compileArgs({
    program: "server",
    outDir: "d",
    listen: `127.0.0.1:${port}`,
    admin,
    s3: { endpoint: location.endpoint, bucket: location.bucket, pathStyle: true },
  });
  const entry = args.indexOf("server.ts");
  const denoFlags = args.filter((arg) => arg.startsWith("--allow-"));
  assert.ok(!denoFlags.some((flag) => /^--allow-(write|all|run|ffi|sys)/.test(flag)));
  await using server = await spawnServer([...args.slice(entry + 1), "--s3-prefix", freshPrefix()], {
    denoFlags,
  });
  using client = await BackupClient.connect({ userId: 9, port: server.port });
  const bytes = new TextEncoder().encode("from a sandboxed server");
  await client.backup("note", ReadableStream.from([bytes]), bytes.length);
  const chunks: Uint8Array[] = [];
  await client.retrieve("note", new WritableStream({ write: (c) => void chunks.push(c) }));
  assert.equal(new TextDecoder().decode(chunks[0]), "from a sandboxed server");
  const health = await fetch(`http://${admin}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  client.close();
  assert.equal((await server.stop()).code, 0);
});
