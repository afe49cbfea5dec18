import assert from "node:assert/strict";
import { accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Mounts a tmpfs of `size` at `dir`; false where this machine does not allow it (not root). */
async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const result = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return result.success;
}

const probe = await Deno.makeTempDir({ prefix: "backup-in-step-" });
const canMount = await mountTmpfs(probe, "1m");
if (canMount) await new Deno.Command("umount", { args: [probe] }).output();
await Deno.remove(probe);
if (!canMount) console.warn("client_in_step_test: cannot mount a tmpfs here (needs root); not run");

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
    const backup = await a.client("backup", "p");
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
      await new Deno.Command("umount", { args: [target] }).output();
    }
  },
});
