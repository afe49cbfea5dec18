/**
 * The S3 client and the store's clock, against a fake store on a real socket: `signedAt` signs
 * every attempt with the same time (so a retry cannot move the store's fence later), and a
 * listing's pages carry the answer's `Date`.
 */
import assert from "node:assert/strict";
import { S3Client } from "../objects/s3/s3_client.ts";
import { amzDate } from "../objects/s3/sigv4.ts";

Deno.test.sanitizer({ ops: true, resources: false });

/** A store that answers 503 to the first `failures` requests, then 200; it keeps each x-amz-date. */
function fakeStore(failures: number, body = "") {
  const dates: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    dates.push(request.headers.get("x-amz-date") ?? "");
    if (dates.length <= failures) {
      return new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 });
    }
    return new Response(body, { headers: { date: "Sun, 06 Dec 2026 16:00:07 GMT" } });
  });
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    bucket: "backups",
    pathStyle: true,
    credentials: { accessKeyId: "k", secretAccessKey: "s" },
  });
  return { client, dates, [Symbol.asyncDispose]: () => server.shutdown() };
}

Deno.test("s3 client: a PUT signed at a given time carries that time on every retry", async () => {
  await using store = fakeStore(2);
  const signedAt = Date.now() - 3_600_000;
  await store.client.put("k", new Uint8Array([1]), { signedAt });
  assert.deepEqual(store.dates, Array(3).fill(amzDate(signedAt)), "three attempts, one date");
});

Deno.test("s3 client: a DELETE signed at a given time carries that time on every retry", async () => {
  await using store = fakeStore(1);
  const signedAt = Date.now() - 3_600_000;
  await store.client.delete("k", { signedAt });
  assert.deepEqual(store.dates, Array(2).fill(amzDate(signedAt)));
});

Deno.test("s3 client: without signedAt, each attempt is signed when it is sent", async () => {
  await using store = fakeStore(0);
  const before = amzDate(Date.now() - 1000);
  await store.client.put("k", new Uint8Array([1]));
  assert.ok(store.dates[0] >= before, `${store.dates[0]} is now, not earlier than ${before}`);
});

Deno.test("s3 client: a listing's page carries the store's Date", async () => {
  const xml = "<ListBucketResult><Contents><Key>a</Key><Size>1</Size>" +
    "<LastModified>2026-12-06T16:00:08.000Z</LastModified></Contents></ListBucketResult>";
  await using store = fakeStore(0, xml);
  const pages = [];
  for await (const page of store.client.list("")) pages.push(page);
  assert.equal(pages.length, 1);
  assert.equal(pages[0].dateMs, Date.parse("2026-12-06T16:00:07Z"));
  assert.deepEqual([...pages[0]], [{
    key: "a",
    size: 1,
    lastModifiedMs: Date.parse("2026-12-06T16:00:08Z"),
  }]);
});
