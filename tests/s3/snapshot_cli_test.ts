/**
 * Snapshots end to end on S3: a server whose store is a Swift bucket (the server's default
 * `chunkFiles`), and `client.ts backup` of a small tree (a large file among small ones), then
 * `snapshots`, `restore` and `diff -r`; a second backup of the unchanged tree sends no data; a
 * second server on the same bucket restores it too. Before S3 kept snapshots, the server refused
 * the v3 Hello and `backup` made per-file backups instead (no snapshot listed).
 */
import assert from "node:assert/strict";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { clientWorkspace, jsonLines, keyedUsersFile } from "../_processes.ts";
import { startTestServer } from "../_helpers.ts";
import { TLS } from "../_v2.ts";
import { keysUnder } from "./_s3_storage.ts";

Deno.test.sanitizer({ ops: true, resources: false });

const USER = 7;

async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/docs/old`, { recursive: true });
  await Deno.writeTextFile(`${root}/docs/a.txt`, "alpha\n".repeat(1000));
  await Deno.writeTextFile(`${root}/docs/old/b.txt`, "beta\n");
  await Deno.writeFile(`${root}/empty`, new Uint8Array(0));
  await Deno.symlink("docs/a.txt", `${root}/link`);
  const big = new Uint8Array(3 * 1024 * 1024);
  for (let at = 0; at < big.length; at += 65536) {
    crypto.getRandomValues(big.subarray(at, at + 65536));
  }
  await Deno.writeFile(`${root}/big.bin`, big);
}

Deno.test("s3 snapshots end to end: backup, snapshots, restore and diff -r through a server on S3", async () => {
  await using w = await clientWorkspace("s3snapcli-", { below: "work" });
  const usersFile = await keyedUsersFile(w, USER);
  const prefix = freshPrefix();
  const s3 = (tag: string) => ({
    location: testLocation(),
    prefix,
    serverTag: tag,
    chunkFiles: true,
  });
  const bucket = new S3Client(testLocation());
  try {
    const src = `${w.dir}/src`;
    await makeTree(src);
    let first: Record<string, unknown>;
    {
      await using server = await startTestServer({ tls: TLS, access: { usersFile }, s3: s3("a") });
      const client = (...args: string[]) =>
        w.client(
          `--server=127.0.0.1:${server.port}`,
          `--user=${USER}`,
          `--ca=${TLS.certFile}`,
          ...args,
        );
      const backup = await client("backup", src, "--host=h1", "--json");
      assert.equal(backup.code, 0, backup.stderr);
      first = jsonLines(backup.stdout).find((line) => line.op === "backup" && line.ok)!;
      assert.ok(first, `a snapshot was made:\n${backup.stdout}\n${backup.stderr}`);
      assert.match(String(first.snapshot), /^[0-9a-f]{64}$/);
      const list = await client("snapshots", "--json");
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout).map((s: { id: string }) => s.id), [first.snapshot]);
      const again = await client("backup", src, "--host=h1", "--json");
      assert.equal(again.code, 0, again.stderr);
      const second = jsonLines(again.stdout).find((line) => line.op === "backup" && line.ok)!;
      assert.equal(second.parent, first.snapshot);
      assert.equal(second.bytesAdded, 0);
      assert.ok(Number(second.bytesSent) < 4096, `sent ${second.bytesSent} bytes`);
    }
    // Another server on the same bucket, with cold caches, restores it.
    await using server = await startTestServer({ tls: TLS, access: { usersFile }, s3: s3("b") });
    const target = `${w.dir}/restored`;
    const restore = await w.client(
      `--server=127.0.0.1:${server.port}`,
      `--user=${USER}`,
      `--ca=${TLS.certFile}`,
      "restore",
      `${String(first.snapshot).slice(0, 12)}:${src}`,
      "--target",
      target,
    );
    assert.equal(restore.code, 0, restore.stderr);
    const diff = await new Deno.Command("diff", {
      args: ["-r", "--no-dereference", src, target],
    }).output();
    assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));
    assert.equal(
      (await keysUnder(bucket, `${prefix}s/${USER}/`)).length,
      2,
      "two snapshot objects",
    );
  } finally {
    for await (const page of bucket.list(prefix)) {
      await Promise.all(page.map(({ key }) => bucket.delete(key)));
    }
  }
});
