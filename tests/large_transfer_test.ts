import assert from "node:assert/strict";
import { BackupClient } from "../mod.ts";
import type { ByteSink, ByteSource } from "../io/byte_stream.ts";
import { startTestServer } from "./_helpers.ts";
import { storedFiles } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** The byte at `offset` of a file made by `patterned(size, seed)`. */
const byteAt = (offset: number, seed: number) => (offset * 31 + (offset >>> 16) + seed) & 0xff;

/** `size` bytes that depend on their offset, so that any lost, doubled or moved chunk shows. */
function patterned(size: number, seed: number): ByteSource {
  let offset = 0;
  return {
    read(buffer) {
      if (offset === size) return Promise.resolve(null);
      const count = Math.min(buffer.length, size - offset);
      for (let i = 0; i < count; i++) buffer[i] = byteAt(offset + i, seed);
      offset += count;
      return Promise.resolve(count);
    },
  };
}

/** A sink that checks every byte against `patterned(…, seed)` and counts them. */
function checking(seed: number): ByteSink & { received: number } {
  const sink = {
    received: 0,
    write(bytes: Uint8Array) {
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== byteAt(sink.received + i, seed)) {
          throw new Error(`byte ${sink.received + i} differs`);
        }
      }
      sink.received += bytes.length;
      return Promise.resolve(bytes.length);
    },
  };
  return sink;
}

Deno.test("a file of many chunks round-trips byte for byte; a reader of a replaced version keeps it whole", async () => {
  await using t = await startTestServer({ retention: { keepDays: 0 } });
  using client = await BackupClient.connect({ userId: 5, port: t.port });
  const size = 20 * 1024 * 1024 + 17;
  await client.backup("large.bin", patterned(size, 1), size);
  const first = checking(1);
  assert.equal(await client.retrieve("large.bin", first), size);
  assert.equal(first.received, size);

  // A reader of the old version keeps it whole while the new one replaces it and garbage goes.
  const oldPacks = await storedFiles(t.root);
  const old = await t.server.storage.open(5, "large.bin");
  const buffer = new Uint8Array(1024 * 1024);
  const oldBytes = checking(1);
  await oldBytes.write(buffer.subarray(0, (await old.source.read(buffer))!));
  const smaller = 1024 * 1024 + 5;
  await client.backup("large.bin", patterned(smaller, 2), smaller);
  await t.server.storage.prune();
  for (let count = await old.source.read(buffer); count; count = await old.source.read(buffer)) {
    await oldBytes.write(buffer.subarray(0, count));
  }
  assert.equal(oldBytes.received, size);
  old[Symbol.dispose]();
  const second = checking(2);
  assert.equal(await client.retrieve("large.bin", second), smaller);
  // Keeping no past versions, the replaced version's packs go at the next collection.
  await t.server.storage.prune();
  const packs = await storedFiles(t.root);
  assert.equal(packs.filter((pack) => oldPacks.includes(pack)).length, 0, "the old packs are gone");
  assert.ok(packs.length > 0);
});
