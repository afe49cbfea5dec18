import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { concat, startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const send = (client: BackupClient, name: string, text: string) => {
  const bytes = new TextEncoder().encode(text);
  return client.backup(name, ReadableStream.from([bytes]), bytes.length);
};

async function fetchText(client: BackupClient, name: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  await client.retrieve(
    name,
    new WritableStream({ write: (chunk) => void chunks.push(chunk.slice()) }),
  );
  return new TextDecoder().decode(concat(...chunks));
}

Deno.test("a small file read again is served from memory, and a replace or delete shows at once", async () => {
  await using t = await startTestServer();
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await send(client, "a", "first");
  assert.equal(await fetchText(client, "a"), "first"); // seen once
  assert.equal(await fetchText(client, "a"), "first"); // admitted
  assert.equal(await fetchText(client, "a"), "first"); // a hit
  assert.deepEqual(t.server.stats().readCache, { hits: 1, files: 1, bytes: 5 });
  await send(client, "a", "other"); // same size: only the entry's drop can make this show
  assert.equal(await fetchText(client, "a"), "other");
  assert.deepEqual(t.server.stats().readCache, { hits: 1, files: 0, bytes: 0 });
  await client.delete("a");
  await assert.rejects(fetchText(client, "a"), FileNotFoundError);
});

Deno.test("--read-cache 0 keeps nothing", async () => {
  await using t = await startTestServer({ readCacheBytes: 0 });
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await send(client, "a", "x");
  for (let i = 0; i < 3; i++) assert.equal(await fetchText(client, "a"), "x");
  assert.deepEqual(t.server.stats().readCache, { hits: 0, files: 0, bytes: 0 });
});

Deno.test("under concurrent uploads, retrieves and deletes every read is what was last stored", async () => {
  await using t = await startTestServer({ readCacheBytes: 64 }); // a few entries: evictions too
  await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
    using client = await BackupClient.connect({ userId: 1, port: t.port });
    for (let round = 0; round < 150; round++) {
      const name = `n${round % 3}-${worker}`;
      const value = `w${worker}r${String(round).padStart(3, "0")}`; // one size for all
      if (round % 10 === 9) {
        await client.delete(name);
        await assert.rejects(fetchText(client, name), FileNotFoundError);
        continue;
      }
      await send(client, name, value);
      for (let read = 0; read < 3; read++) assert.equal(await fetchText(client, name), value);
    }
  }));
  assert.ok(t.server.stats().readCache.hits > 100, "the cache served many of the reads");
});
