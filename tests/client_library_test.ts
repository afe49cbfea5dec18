import assert from "node:assert/strict";
import { BackupClient, FileNotFoundError, InvalidNameError, ServerError } from "../mod.ts";
import { concat, sameBytes, startTestServer, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("BackupClient: backup from a stream, list, retrieve to a stream, delete", async () => {
  await using t = await startTestServer();
  using client = await BackupClient.connect({ userId: 77, port: t.port });
  assert.deepEqual(await client.list(), []);
  const content = utf8("stream me");
  await client.backup(
    "s.txt",
    ReadableStream.from([content.subarray(0, 4), content.subarray(4)]),
    9,
  );
  assert.deepEqual(await client.list(), ["s.txt"]);
  const chunks: Uint8Array[] = [];
  const size = await client.retrieve(
    "s.txt",
    new WritableStream({ write: (c) => void chunks.push(c) }),
  );
  assert.equal(size, 9);
  assert.equal(new TextDecoder().decode(concat(...chunks)), "stream me");
  await client.delete("s.txt");
  await assert.rejects(client.delete("s.txt"), FileNotFoundError);
  await assert.rejects(client.retrieve("s.txt", new WritableStream()), FileNotFoundError);
  assert.deepEqual(await client.list(), []);
});

Deno.test("BackupClient: files in and out through the file helpers, 5 MiB with progress", async () => {
  await using t = await startTestServer();
  const dir = await Deno.makeTempDir();
  try {
    const data = crypto.getRandomValues(new Uint8Array(65536));
    const content = concat(...Array.from({ length: 80 }, () => data));
    await Deno.writeFile(`${dir}/in.bin`, content);
    using client = await BackupClient.connect({ userId: 78, port: t.port });
    const progress: number[] = [];
    const sent = await client.backupFile("big/in.bin", `${dir}/in.bin`, {
      onProgress: (done) => progress.push(done),
    });
    assert.equal(sent, content.length);
    assert.equal(progress.at(-1), content.length);
    assert.ok(progress.length > 2, "progress reported along the way");
    assert.equal(await client.retrieveToFile("big/in.bin", `${dir}/out.bin`), content.length);
    assert.ok(sameBytes(await Deno.readFile(`${dir}/out.bin`), content));
    // A failed retrieve leaves an existing local file alone, and no partial file behind.
    await assert.rejects(client.retrieveToFile("missing", `${dir}/out.bin`), FileNotFoundError);
    assert.equal((await Deno.stat(`${dir}/out.bin`)).size, content.length);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "in.bin",
      "out.bin",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BackupClient refuses a bad name locally and survives a 1003", async () => {
  await using t = await startTestServer({ limits: { maxFileSize: 4 } });
  using client = await BackupClient.connect({ userId: 79, port: t.port });
  await assert.rejects(client.list().then(() => client.delete("../x")), InvalidNameError);
  await assert.rejects(client.backup("big", ReadableStream.from([utf8("12345")]), 5), ServerError);
  // The server closed after the 1003; the client reconnects for the next request.
  await client.backup("small", ReadableStream.from([utf8("1234")]), 4);
  assert.deepEqual(await client.list(), ["small"]);
});

Deno.test("BackupClient works with a server that closes after each response", async () => {
  await using t = await startTestServer({ closeAfterResponse: true });
  using client = await BackupClient.connect({ userId: 80, port: t.port });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "again and again");
    for (let i = 0; i < 3; i++) await client.backupFile(`f${i}`, `${dir}/f`);
    assert.deepEqual(await client.list(), ["f0", "f1", "f2"]);
    await client.delete("f1");
    assert.deepEqual(await client.list(), ["f0", "f2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BackupClient rejects a stream shorter than its declared size", async () => {
  await using t = await startTestServer();
  using client = await BackupClient.connect({ userId: 81, port: t.port });
  await assert.rejects(
    client.backup("short", ReadableStream.from([utf8("abc")]), 10),
    /ended 7 bytes before its size 10/,
  );
  assert.deepEqual(await client.list(), []);
});

Deno.test("a failed upload from a ReadableStream cancels the stream and unlocks it", async () => {
  await using t = await startTestServer({ limits: { maxFileSize: 10 } });
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(new Uint8Array(1024)),
    cancel: () => void (cancelled = true),
  });
  await assert.rejects(client.backup("big", stream, 100_000));
  assert.equal(cancelled, true, "the source was told");
  assert.equal(stream.locked, false, "and is not left locked");
});
