import assert from "node:assert/strict";
import { accountWorkspace } from "./_cli_account.ts";
import { canMountTmpfs, mountTmpfs, unmountTmpfs } from "./_tmpfs.ts";
import { makeKey, startV2Server } from "./_v2.ts";
import { type ByteSink, bytesSource } from "../io/byte_stream.ts";
import { concat, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const canMount = await canMountTmpfs("client_in_step_test");

Deno.test("a download its sink gives up on leaves the client in step: the next request gets its own answer", async () => {
  const key = await makeKey();
  await using server = await startV2Server([{ id: 7, keys: [key] }]);
  using client = await server.connect(7, key);
  // Large enough that most of it is still on the way when the sink gives up.
  const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 7) % 251);
  await client.backup("a-big.bin", bytesSource(big), big.length);
  const small = utf8("small\n");
  await client.backup("b.txt", bytesSource(small), small.length);

  const full = new Error("no space left (a test's sink)");
  let taken = 0;
  const failing: ByteSink = {
    write(bytes) {
      taken += bytes.length;
      return taken > 64 * 1024 ? Promise.reject(full) : Promise.resolve(bytes.length);
    },
  };
  await assert.rejects(client.retrieve("a-big.bin", failing), (error) => error === full);

  const chunks: Uint8Array[] = [];
  const collecting: ByteSink = {
    write: (bytes) => (chunks.push(bytes.slice()), Promise.resolve(bytes.length)),
  };
  const info = await client.retrieve("b.txt", collecting);
  assert.equal(info.size, small.length);
  assert.deepEqual(concat(...chunks), small);
  assert.deepEqual(await client.list(), ["a-big.bin", "b.txt"], "and the one after");
});

Deno.test({
  name:
    "a download abandoned when the local disk fills closes its connection: the next files are restored",
  ignore: !canMount,
  fn: async () => {
    await using a = await accountWorkspace("backup-in-step-");
    const source = `${a.w.dir}/work/p`;
    await Deno.mkdir(source);
    // The big file comes first in byte order and does not fit the 1 MiB target.
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251);
    await Deno.writeFile(`${source}/a-big.bin`, big);
    const small = Array.from({ length: 8 }, (_, i) => `b${i}.txt`);
    for (const name of small) await Deno.writeTextFile(`${source}/${name}`, `small ${name}\n`);
    const backup = await a.client("backup", "--files", "p");
    assert.equal(backup.code, 0, backup.stderr);

    const target = `${a.w.dir}/full`;
    await Deno.mkdir(target);
    assert.ok(await mountTmpfs(target, "1m"));
    try {
      const restore = await a.client("restore", "p/", "-o", `${target}/r`, "-j", "1");
      assert.equal(restore.code, 4, restore.stderr);
      assert.match(restore.stderr, /not restored: p\/a-big\.bin: .*(No space left|os error 28)/);
      assert.doesNotMatch(restore.stderr, /response|protocol|connection problem/);
      assert.equal(restore.stderr.match(/not restored/g)?.length, 1, restore.stderr);
      for (const name of small) {
        assert.equal(await Deno.readTextFile(`${target}/r/${name}`), `small ${name}\n`);
      }
      const left = [...Deno.readDirSync(`${target}/r`)].map((entry) => entry.name).sort();
      assert.deepEqual(left, small, "no partial file left behind");
    } finally {
      await unmountTmpfs(target);
    }
  },
});
