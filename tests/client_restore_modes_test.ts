import assert from "node:assert/strict";
import { accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const modeOf = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test({
  name: "a restore into an existing folder gives stored folder modes only to folders it made",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using a = await accountWorkspace("backup-restore-modes-");
    const work = `${a.w.dir}/work`;
    // p/ stored empty first (its marker p/.backup-folder, mode 0777), then with a file and an
    // empty p/sub/e (mode 0777): the server lists both markers.
    await Deno.mkdir(`${work}/p`);
    await Deno.chmod(`${work}/p`, 0o777);
    assert.equal((await a.client("backup", "--files", "p")).code, 0);
    await Deno.mkdir(`${work}/p/sub/e`, { recursive: true });
    await Deno.chmod(`${work}/p/sub/e`, 0o777);
    await Deno.writeTextFile(`${work}/p/f.txt`, "f\n");
    assert.equal((await a.client("backup", "--files", "p")).code, 0);
    const listed = await a.client("list", "p/");
    assert.match(listed.stdout, /^p\/$/m, listed.stdout);

    await Deno.mkdir(`${work}/r/sub`, { recursive: true });
    await Deno.chmod(`${work}/r`, 0o700);
    await Deno.chmod(`${work}/r/sub`, 0o700);
    const restore = await a.client("restore", "p/", "-o", "r");
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(await Deno.readTextFile(`${work}/r/f.txt`), "f\n");
    assert.equal(await modeOf(`${work}/r`), 0o700, "the existing target keeps its mode");
    assert.equal(await modeOf(`${work}/r/sub`), 0o700, "an existing subfolder keeps its mode");
    assert.equal(await modeOf(`${work}/r/sub/e`), 0o777, "a folder the restore made gets its own");
  },
});
