/**
 * The store's clock on a real S3 engine (docs/s3_repository_plan.md §3.1 and §3.5c): listings say
 * the store's time, and a request signed too long ago is refused by the store itself, on every
 * attempt, which is the fence GC's safety argument relies on.
 */
import assert from "node:assert/strict";
import { S3Client, S3Error } from "../../objects/s3/s3_client.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MINUTE = 60_000;

async function bucket(): Promise<{ client: S3Client; prefix: string } & AsyncDisposable> {
  const client = new S3Client(testLocation());
  // A store just started may answer 503 to the first bucket creation.
  await client.ensureBucket().catch(() =>
    new Promise((resolve) => setTimeout(resolve, 500)).then(() => client.ensureBucket())
  );
  const prefix = freshPrefix();
  return {
    client,
    prefix,
    async [Symbol.asyncDispose]() {
      for await (const page of client.list(prefix)) {
        await Promise.all(page.map(({ key }) => client.delete(key)));
      }
    },
  };
}

async function listed(client: S3Client, prefix: string) {
  const pages = [];
  for await (const page of client.list(prefix)) pages.push(page);
  return pages;
}

Deno.test("s3 store clock: a listing carries the store's Date (rounded down), LastModified is rounded up", async () => {
  await using b = await bucket();
  const before = Date.now();
  await b.client.put(`${b.prefix}a`, new Uint8Array([1]));
  const [page] = await listed(b.client, b.prefix);
  const after = Date.now();
  assert.equal(page.length, 1);
  assert.equal(page.dateMs % 1000, 0, "whole seconds");
  // Same machine: the store's clock is this one's, truncated to the second.
  assert.ok(
    page.dateMs >= before - 1000 && page.dateMs <= after,
    `${page.dateMs} in [${before}, ${after}]`,
  );
  // Swift rounds LastModified up to the second (s3api's S3Timestamp.ceil), and Date is rounded
  // down: an object can look up to 2 s newer than the answer that lists it, never older than it is.
  const modified = page[0].lastModifiedMs;
  assert.equal(modified % 1000, 0, "LastModified in whole seconds too");
  assert.ok(
    modified >= before && modified <= page.dateMs + 2000,
    `${modified} vs Date ${page.dateMs}`,
  );
});

Deno.test("s3 store clock: a request signed 20 min ago is refused by the store; 5 min ago is taken", async () => {
  await using b = await bucket();
  const key = `${b.prefix}fenced`;
  const late = Date.now() - 20 * MINUTE; // past Swift's allowable_clock_skew of 900 s
  await assert.rejects(b.client.put(key, new Uint8Array([1]), { signedAt: late }), (error) => {
    assert.ok(error instanceof S3Error);
    assert.equal(error.status, 403);
    assert.equal(error.code, "RequestTimeTooSkewed");
    return true;
  });
  assert.deepEqual(
    await listed(b.client, b.prefix).then((pages) => pages.flat()),
    [],
    "nothing stored",
  );
  await b.client.put(key, new Uint8Array([2]), { signedAt: Date.now() - 5 * MINUTE });
  await assert.rejects(b.client.delete(key, { signedAt: late }), S3Error);
  const [page] = await listed(b.client, b.prefix);
  assert.deepEqual(page.map(({ key }) => key), [key], "the late DELETE was refused too");
});
