import assert from "node:assert/strict";
import { BackupClient } from "../mod.ts";
import type { ByteSink, ByteSource } from "../io/byte_stream.ts";
import { FLUSH_EVERY_BYTES } from "../storage/embedded/engine.ts";
import { eventually, startTestServer } from "./_helpers.ts";
import { dataFiles } from "../harness/stored.ts";

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

Deno.test("a file past the background flush round-trips byte for byte, and so does its replacement", async () => {
  await using t = await startTestServer({ retention: { keepDays: 0 } });
  using client = await BackupClient.connect({ userId: 5, port: t.port });
  const size = FLUSH_EVERY_BYTES + 3 * 1024 * 1024 + 17;
  await client.backup("large.bin", patterned(size, 1), size);
  const first = checking(1);
  assert.equal(await client.retrieve("large.bin", first), size);
  assert.equal(first.received, size);

  // A reader of the old version keeps it whole while the new one replaces it.
  const [oldName] = await dataFiles(t.root);
  using oldCopy = await Deno.open(`${t.root}/data/${oldName}`);
  const smaller = 1024 * 1024 + 5;
  await client.backup("large.bin", patterned(smaller, 2), smaller);
  const second = checking(2);
  assert.equal(await client.retrieve("large.bin", second), smaller);
  assert.equal((await oldCopy.stat()).size, size);
  // Keeping no past versions, the replaced data file is removed after the answer.
  await eventually(async () => (await dataFiles(t.root)).length === 1, "the old data file goes");
  assert.ok(!(await dataFiles(t.root)).includes(oldName));
});
