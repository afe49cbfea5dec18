import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { sameBytes } from "./_helpers.ts";
import { storedBytes, unreferencedFiles } from "../harness/stored.ts";
import { spawnServer } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FILES = 24;
/** Version 1 and 2 of file i differ in size and in every byte, so a mix cannot pass for either. */
function content(i: number, version: 1 | 2): Uint8Array {
  const size = version === 1 ? 50_000 + i * 1000 : 2_000_000 + i * 7919;
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * version + version * 101) & 0xff;
  return bytes;
}

Deno.test("SIGKILL mid-upload: every file whole, old or new; every acknowledged one there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "backup-crash-" });
  const root = `${dir}/root`;
  const flags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
  try {
    const acknowledged = new Map<number, 1 | 2>();
    {
      await using server = await spawnServer(["--root", root, "--port", "0"], { denoFlags: flags });
      using client = await BackupClient.connect({ userId: 1, port: server.port });
      for (let i = 0; i < FILES; i++) {
        await client.backup(`f${i}`, ReadableStream.from([content(i, 1)]), content(i, 1).length);
        acknowledged.set(i, 1);
      }
      // Version 2 of every file at once, each on its own connection, sent in small pieces. The odd
      // files hold back their last piece until the kill, so that some uploads are surely half-written
      // when it lands (without that, all of them finished first about one run in ten).
      const killed = Promise.withResolvers<void>();
      const uploads = Array.from({ length: FILES }, async (_, i) => {
        const bytes = content(i, 2);
        const pieces = ReadableStream.from((async function* () {
          for (let at = 0; at < bytes.length; at += 64 * 1024) {
            if (i % 2 === 1 && at + 64 * 1024 >= bytes.length) await killed.promise;
            yield bytes.subarray(at, at + 64 * 1024);
          }
        })());
        try {
          using uploader = await BackupClient.connect({ userId: 1, port: server.port });
          await uploader.backup(`f${i}`, pieces, bytes.length);
          acknowledged.set(i, 2);
          if ([...acknowledged.values()].filter((v) => v === 2).length === 4) killed.resolve();
        } catch {
          // the server died under this upload: expected for the ones in flight
        }
      });
      // Kill after four acknowledgements, or once the uploads that hold nothing back are all over.
      Promise.all(uploads.filter((_, i) => i % 2 === 0)).then(() => killed.resolve());
      await killed.promise;
      const stopped = await server.stop("SIGKILL");
      assert.notEqual(stopped.code, 0, "the server was killed, not stopped");
      await Promise.all(uploads);
    }
    const inFlight = [...acknowledged.values()].filter((v) => v === 1).length;
    const leftovers = (await unreferencedFiles(root)).length;
    console.log(
      `at the kill: ${FILES - inFlight} uploads of version 2 acknowledged, ${inFlight} not, ` +
        `${leftovers} packs of uploads cut off`,
    );
    assert.ok(inFlight > 0, "the kill interrupted uploads");

    await using restarted = await spawnServer(["--root", root, "--port", "0"], {
      denoFlags: flags,
    });
    assert.deepEqual(await unreferencedFiles(root), [], "cut-off uploads swept at start-up");
    using client = await BackupClient.connect({ userId: 1, port: restarted.port });
    assert.deepEqual(
      (await client.list()).sort(),
      Array.from({ length: FILES }, (_, i) => `f${i}`).sort(),
    );
    for (let i = 0; i < FILES; i++) {
      const stored = storedBytes(root, 1, `f${i}`)!;
      const isV1 = sameBytes(stored, content(i, 1));
      const isV2 = sameBytes(stored, content(i, 2));
      assert.ok(isV1 || isV2, `f${i} is one whole version (${stored.length} bytes)`);
      if (acknowledged.get(i) === 2) assert.ok(isV2, `f${i} was acknowledged as version 2`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
