import assert from "node:assert/strict";
import { S3Client, S3Error } from "../objects/s3/s3_client.ts";

const closedPort = () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
};

Deno.test("a store that does not answer: unhealthy, and an S3Error naming the call after retries", async () => {
  const calls: Array<[string, boolean]> = [];
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${closedPort()}`,
    bucket: "backups",
    pathStyle: true,
    credentials: { accessKeyId: "k", secretAccessKey: "s" },
  }, (call, _seconds, ok) => calls.push([call, ok]));
  assert.equal(await client.healthy(), false);
  await assert.rejects(client.put("a", new Uint8Array(1)), (error) => {
    assert.ok(error instanceof S3Error);
    assert.equal(error.status, 0);
    assert.match(error.message, /^PutObject a: /);
    return true;
  });
  assert.deepEqual(calls.filter(([call]) => call === "PutObject"), [
    ["PutObject", false],
    ["PutObject", false],
    ["PutObject", false],
  ], "three attempts, each observed as failed");
});
