/**
 * Deduplication across servers on one bucket (`chunkFiles`): a server finds the chunks another
 * stored through the index objects it wrote after its records, at its first chunked upload for
 * that user and then whenever its last listing is older than its refresh interval; before that,
 * a chunk is stored again (harmless), and both copies read back byte for byte.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BackupClient } from "../../client/backup_client.ts";
import { bytesSource } from "../../io/byte_stream.ts";
import { freshPrefix } from "../../harness/s3_location.ts";
import { startS3Server, waitFor } from "../../harness/s3_cluster.ts";
import { keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";
import { bytesUnder, randomBytes } from "./_chunked.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MiB = 1024 * 1024;

Deno.test("s3 dedup: a second server process deduplicates against the first one's chunks", async () => {
  const prefix = freshPrefix();
  await using s3 = await openS3({}, prefix);
  const a = await startS3Server(prefix, { extraArgs: ["--s3-chunk-files"] });
  const b = await startS3Server(prefix, { extraArgs: ["--s3-chunk-files"] });
  try {
    const bytes = randomBytes(20 * MiB);
    {
      using client = await BackupClient.connect({ userId: 7, port: a.port });
      await client.backup("one", bytesSource(bytes), bytes.length);
    }
    // A's index object is written after the record, after the answer.
    await waitFor(
      async () => (await keysUnder(s3.client, `${prefix}x/7/`)).length > 0,
      "A's index",
    );
    const before = await bytesUnder(s3.client, `${prefix}p/7/`);
    assert.ok(before >= 20 * MiB);
    {
      using client = await BackupClient.connect({ userId: 7, port: b.port });
      await client.backup("two", bytesSource(bytes), bytes.length);
    }
    const grown = (await bytesUnder(s3.client, `${prefix}p/7/`)) - before;
    assert.ok(grown <= MiB, `B stored ${grown} bytes of packs`);
    for (const [name, server] of [["one", b], ["two", a]] as const) {
      using client = await BackupClient.connect({ userId: 7, port: server.port });
      const chunks: Uint8Array[] = [];
      await client.retrieve(name, {
        write: (part) => (chunks.push(part.slice()), Promise.resolve(part.length)),
      });
      assert.ok(Buffer.concat(chunks).equals(bytes), name);
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("s3 dedup: another server's chunks are found after the refresh interval, not before", async () => {
  await using a = await openS3({ chunkFiles: true });
  // B lists the user's index objects at every upload; C trusts its listing for 30 s.
  await using b = await openS3({ chunkFiles: true, dedupRefreshMs: 0 }, a.prefix);
  await using c = await openS3({ chunkFiles: true }, a.prefix);
  const warmUp = randomBytes(MiB);
  await store(b.storage, 1, "b-first", warmUp);
  await store(c.storage, 1, "c-first", warmUp);
  const bytes = randomBytes(12 * MiB);
  await store(a.storage, 1, "from-a", bytes);
  await a.storage.settled(); // its index object
  const packs = () => bytesUnder(a.client, `${a.prefix}p/1/`);

  const beforeB = await packs();
  await store(b.storage, 1, "from-b", bytes);
  assert.ok((await packs()) - beforeB <= MiB, "B, refreshed, stores nothing again");

  const beforeC = await packs();
  await store(c.storage, 1, "from-c", bytes);
  assert.ok((await packs()) - beforeC >= 12 * MiB, "C, within its 30 s, stores a second copy");
  for (const name of ["from-a", "from-b", "from-c"]) {
    assert.ok(Buffer.from(await readWhole(c.storage, 1, name)).equals(bytes), name);
  }
});
