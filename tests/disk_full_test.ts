import assert from "node:assert/strict";
import { runCli } from "./_processes.ts";
import { BackupClient } from "../client/backup_client.ts";
import { ServerError } from "../client/client_errors.ts";
import { concat, startTestServer } from "./_helpers.ts";
import { unreferencedFiles } from "../harness/stored.ts";
import { canMountTmpfs, mountTmpfs, unmountTmpfs } from "./_tmpfs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const canMount = await canMountTmpfs("disk_full_test");

/** Runs `fn` with a fresh tmpfs of `size` as its root, unmounted and removed afterwards. */
async function onTmpfs(size: string, fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "backup-disk-full-" });
  assert.ok(await mountTmpfs(root, size));
  try {
    await fn(root);
  } finally {
    await unmountTmpfs(root);
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test({
  name: "disk full: the upload gets 1003, the old version survives, reads go on",
  ignore: !canMount,
  fn: () =>
    onTmpfs("2m", async (root) => {
      await using t = await startTestServer({ root });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      const old = new Uint8Array(300_000).fill(1);
      await client.backup("keep.bin", ReadableStream.from([old]), old.length);
      const tooBig = content("too big", 3_000_000); // does not compress
      await assert.rejects(
        client.backup("keep.bin", ReadableStream.from([tooBig]), tooBig.length),
        ServerError,
      );
      const failure = t.logs.map((line) => JSON.parse(line)).find((entry) => entry.status === 1003);
      assert.match(failure?.error ?? "", /No space left on device|os error 28/);
      assert.deepEqual(await client.list(), ["keep.bin"]);
      const chunks: Uint8Array[] = [];
      const size = await client.retrieve(
        "keep.bin",
        new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
      );
      assert.equal(size, old.length);
      assert.ok(chunks.every((chunk) => chunk.every((byte) => byte === 1)));
      assert.deepEqual(
        await unreferencedFiles(root),
        [],
        "the failed upload left no pack",
      );
      // Once there is room again, uploads work again.
      const fits = new Uint8Array(500_000).fill(3);
      await client.backup("next.bin", ReadableStream.from([fits]), fits.length);
    }),
});

Deno.test({
  name: "a disk that fills during group commits loses no acknowledged upload",
  ignore: !canMount,
  fn: () =>
    onTmpfs("3m", async (root) => {
      const acknowledged = new Map<string, number>();
      let refused = 0;
      {
        await using t = await startTestServer({ root });
        // 16 writers at once, small files in the index and large ones in packs, until full.
        await Promise.all(Array.from({ length: 16 }, async (_, writer) => {
          for (let n = 0; n < 40; n++) {
            const name = `w${writer}/f${n}`;
            const size = n % 4 === 3 ? 90_000 : 20_000 + writer;
            try {
              using client = await BackupClient.connect({ userId: 1, port: t.port });
              await client.backup(name, ReadableStream.from([content(name, size)]), size);
              acknowledged.set(name, size);
            } catch (error) {
              assert.ok(error instanceof ServerError, String(error));
              refused++;
            }
          }
        }));
      }
      console.log(`disk full: ${acknowledged.size} uploads acknowledged, ${refused} refused`);
      assert.ok(refused > 0 && acknowledged.size > 0, "the disk filled part-way");
      await using t = await startTestServer({ root });
      using client = await BackupClient.connect({ userId: 1, port: t.port });
      assert.deepEqual((await client.list()).sort(), [...acknowledged.keys()].sort());
      for (const [name, size] of acknowledged) {
        const chunks: Uint8Array[] = [];
        await client.retrieve(
          name,
          new WritableStream({ write: (c) => void chunks.push(c.slice()) }),
        );
        assert.deepEqual(concat(...chunks), content(name, size), name);
      }
    }),
});

/** Bytes that differ per name, so that a mixed-up file shows, and that do not compress. */
function content(name: string, size: number): Uint8Array {
  let state = [...name].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) >>> 0, 7) || 1;
  return Uint8Array.from({ length: size }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state & 0xff;
  });
}

Deno.test({
  name: "disk full on the restore target: exit 2, the file named, nothing left behind",
  ignore: !canMount,
  fn: async () => {
    await using t = await startTestServer();
    using client = await BackupClient.connect({ userId: 1, port: t.port });
    const big = new Uint8Array(3_000_000).fill(7);
    await client.backup("big.bin", ReadableStream.from([big]), big.length);
    await onTmpfs("1m", async (target) => {
      const result = await runCli("client.ts", [
        "--user=1",
        `--server=127.0.0.1:${t.port}`,
        "restore",
        "big.bin",
        "-o",
        `${target}/big.bin`,
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot write ${target}/big\\.bin: .*No space left`));
      assert.deepEqual([...Deno.readDirSync(target)], [], "no partial file");
    });
  },
});
