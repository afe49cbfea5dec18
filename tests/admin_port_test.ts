import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
};

Deno.test("--admin-listen: /healthz while storage answers, /metrics in Prometheus text", async () => {
  await using t = await startTestServer({ admin: { hostname: "127.0.0.1", port: 0 } });
  const admin = t.server.adminAddr!.port;
  assert.deepEqual(await get(admin, "/healthz"), { status: 200, text: "ok\n" });
  using client = await BackupClient.connect({ userId: 3, port: t.port });
  await client.backup("a", ReadableStream.from([new Uint8Array(70_000)]), 70_000);
  await client.retrieve("a", new WritableStream());
  await assert.rejects(client.retrieve("missing", new WritableStream()));
  const { status, text } = await get(admin, "/metrics");
  assert.equal(status, 200);
  assert.match(text, /^backup_requests_total\{op="backup",status="212"\} 1$/m);
  assert.match(text, /^backup_requests_total\{op="retrieve",status="1001"\} 1$/m);
  assert.match(text, /^backup_received_bytes_total 70000$/m);
  assert.match(text, /^backup_sent_bytes_total 70000$/m);
  assert.match(text, /^backup_connections_open 1$/m);
  assert.match(text, /^backup_uploads_in_flight 0$/m);
  assert.match(text, /^backup_committed_changes_total 1$/m);
  assert.match(text, /^backup_request_duration_seconds_bucket\{op="retrieve",le="\+Inf"\} 2$/m);
  assert.match(text, /^backup_request_duration_seconds_count\{op="backup"\} 1$/m);
  assert.match(text, /^# TYPE backup_request_duration_seconds histogram$/m);
  assert.equal((await get(admin, "/other")).status, 404);
});

Deno.test("/healthz answers 503 once storage is gone", async () => {
  await using t = await startTestServer({ admin: { hostname: "127.0.0.1", port: 0 } });
  await Deno.remove(`${t.root}/index.sqlite`);
  const { status } = await get(t.server.adminAddr!.port, "/healthz");
  assert.equal(status, 503);
});

Deno.test("an upload in flight shows in the metrics until it ends", async () => {
  await using t = await startTestServer({ admin: { hostname: "127.0.0.1", port: 0 } });
  const upload = await t.server.storage.beginUpload(1, "slow", { size: 10 });
  const inFlight = (text: string) => /^backup_uploads_in_flight (\d+)$/m.exec(text)![1];
  assert.equal(inFlight((await get(t.server.adminAddr!.port, "/metrics")).text), "1");
  await upload.abort();
  assert.equal(inFlight((await get(t.server.adminAddr!.port, "/metrics")).text), "0");
});
