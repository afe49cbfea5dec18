/**
 * The object store contract on a real S3 engine (`tools/s3_engine.sh run`), each test under a fresh
 * prefix that is emptied afterwards; then what only S3 shows: multipart puts from a source.
 */
import assert from "node:assert/strict";
import { bytesSource } from "../../io/byte_stream.ts";
import { ObjectSizeMismatchError } from "../../objects/object_store.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../../objects/s3_store.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { objectStoreContract } from "../_object_store_contract.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MIB = 1024 * 1024;

async function openS3(
  options: Partial<S3ObjectStoreOptions> = {},
): Promise<S3ObjectStore & AsyncDisposable & { client: S3Client }> {
  const client = new S3Client(testLocation());
  await client.ensureBucket();
  const prefix = freshPrefix();
  const store = new S3ObjectStore({ client, prefix, ...options });
  return Object.assign(store, {
    client,
    async [Symbol.asyncDispose]() {
      for await (const page of client.list(prefix)) {
        await Promise.all(page.map(({ key }) => client.delete(key)));
      }
      for await (const upload of client.pendingUploads(prefix)) {
        await client.abortMultipart(upload.key, upload.uploadId);
      }
    },
  });
}

objectStoreContract("s3", () => openS3(), { refusesNameConflicts: false });

const fill = (size: number, seed: number) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
};

Deno.test("s3: a source larger than a part goes up in parts and reads back whole", async () => {
  await using store = await openS3({ partSize: 5 * MIB, partsInFlight: 2 });
  const bytes = fill(11 * MIB + 3, 1);
  await store.put("big/one", { source: bytesSource(bytes), size: bytes.length });
  assert.deepEqual(await store.stat("big/one"), { size: bytes.length });
  assert.deepEqual(await store.get("big/one"), bytes);
  const middle = { offset: 5 * MIB - 10, length: MIB };
  assert.deepEqual(
    await store.get("big/one", middle),
    bytes.subarray(middle.offset, middle.offset + middle.length),
  );
});

Deno.test("s3: a multipart put whose source lies about its size leaves nothing", async () => {
  await using store = await openS3({ partSize: 5 * MIB });
  const bytes = fill(11 * MIB, 2);
  const short = store.put("big/short", { source: bytesSource(bytes), size: bytes.length + 1 });
  await assert.rejects(short, ObjectSizeMismatchError);
  const long = store.put("big/long", { source: bytesSource(bytes), size: bytes.length - 1 });
  await assert.rejects(long, ObjectSizeMismatchError);
  assert.equal(await store.stat("big/short"), undefined);
  assert.equal(await store.stat("big/long"), undefined);
  assert.deepEqual(await Array.fromAsync(store.list("")), []);
  assert.deepEqual(await Array.fromAsync(store.client.pendingUploads(store.prefix)), []);
});

Deno.test("s3: keys under the prefix that are not object names are not listed", async () => {
  await using store = await openS3();
  await store.put("a", new Uint8Array(1));
  await store.client.put(`${store.prefix}README`, new Uint8Array(2));
  assert.deepEqual(await Array.fromAsync(store.list("")), [{ name: "a", size: 1 }]);
});
