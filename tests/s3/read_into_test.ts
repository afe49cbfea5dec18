/**
 * `S3ObjectStore.readInto` on a real S3 engine (`tools/s3_engine.sh run`): a ranged GET read
 * straight into the caller's buffer, as `get` of that range reads it (the chunked reader's runs).
 */
import assert from "node:assert/strict";
import { ObjectNotFoundError } from "../../objects/object_store.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

Deno.test("s3 readInto: a range, a range past the end, one at the end and a missing object", async () => {
  const client = new S3Client(testLocation());
  await client.ensureBucket();
  const prefix = freshPrefix();
  const store = new S3ObjectStore({ client, prefix });
  try {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
    await store.put("p/1/a", bytes);
    const target = new Uint8Array(1000).fill(7);
    assert.equal(await store.readInto("p/1/a", 5000, target), 1000);
    assert.deepEqual(target, bytes.subarray(5000, 6000));
    const past = new Uint8Array(2000);
    assert.equal(await store.readInto("p/1/a", 99_500, past), 500, "only the bytes that exist");
    assert.deepEqual(past.subarray(0, 500), bytes.subarray(99_500));
    assert.equal(await store.readInto("p/1/a", 100_000, new Uint8Array(10)), 0);
    assert.equal(await store.readInto("p/1/a", 0, new Uint8Array(0)), 0);
    await assert.rejects(store.readInto("p/1/b", 0, new Uint8Array(10)), ObjectNotFoundError);
    await assert.rejects(store.readInto("p/1/b", 0, new Uint8Array(0)), ObjectNotFoundError);
  } finally {
    for await (const page of client.list(prefix)) {
      await Promise.all(page.map(({ key }) => client.delete(key)));
    }
  }
});
