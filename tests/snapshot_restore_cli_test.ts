/**
 * `restore SNAPSHOT --target DIR` of the client's command line past a path it cannot restore: a
 * warning line each, the rest restored, exit code 4 (cli/snapshot_restore.ts).
 */
import assert from "node:assert/strict";
import { accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a restore goes on past a path it cannot restore, warns of it and exits 4", async () => {
  await using a = await accountWorkspace("snaprestore-");
  const src = `${a.w.dir}/src`;
  await Deno.mkdir(`${src}/docs`, { recursive: true });
  await Deno.writeTextFile(`${src}/docs/a.txt`, "alpha\n");
  await Deno.writeTextFile(`${src}/docs/b.txt`, "beta\n");
  await Deno.writeTextFile(`${src}/z.txt`, "zulu\n");
  const backup = await a.client("backup", src, "--host=h1");
  assert.equal(backup.code, 0, backup.stderr);

  const target = `${a.w.dir}/restored`;
  // A folder where a file goes is never removed: that one path fails.
  await Deno.mkdir(`${target}/docs/a.txt`, { recursive: true });
  const restore = await a.client("restore", `latest:${src}`, "--target", target, "--host=h1");
  assert.equal(restore.code, 4, restore.stderr);
  assert.match(restore.stderr, /not restored: docs\/a\.txt: a folder is in the way/);
  assert.match(restore.stdout + restore.stderr, /1 could not be restored/);
  assert.equal(await Deno.readTextFile(`${target}/docs/b.txt`), "beta\n");
  assert.equal(await Deno.readTextFile(`${target}/z.txt`), "zulu\n");
});
