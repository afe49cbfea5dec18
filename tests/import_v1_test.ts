import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { compareBytes } from "../protocol/list.ts";
import { concat, sameBytes, startTestServer } from "./_helpers.ts";
import { spawnServer } from "./_processes.ts";
import { storedNames, versionCount } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FILES = 10_000;
const USERS = [1, 77, 4294967295];

/** File i of the generated root: its user, name and bytes (nested, unicode, empty and large ones). */
function fileOf(i: number): { userId: number; name: string; bytes: Uint8Array } {
  const userId = USERS[i % USERS.length];
  const depth = i % 5;
  const folders = Array.from(
    { length: depth },
    (_, d) => (d % 2 ? `dir${(i >> d) % 7}` : "文件夹 ü"),
  );
  const leaf = i % 11 === 0 ? `emoji-😀-${i}` : `f${i}.bin`;
  const size = i % 97 === 0 ? 0 : i % 500 === 1 ? 70_000 + i * 131 : (i * 37) % 3000;
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 7 + j * 13) & 0xff;
  return { userId, name: [...folders, leaf].join("/"), bytes };
}

/** A root in the version 1 layout, with what the import must leave alone. */
async function versionOneRoot(): Promise<{ root: string; outside: string }> {
  const root = await Deno.makeTempDir({ prefix: "backup-v1-root-" });
  const outside = await Deno.makeTempDir({ prefix: "backup-v1-outside-" });
  await Deno.writeTextFile(`${outside}/secret`, "outside");
  for (let i = 0; i < FILES; i++) {
    const { userId, name, bytes } = fileOf(i);
    const path = `${root}/${userId}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, bytes);
  }
  await Deno.symlink(`${outside}/secret`, `${root}/1/link`);
  await Deno.writeTextFile(`${root}/1/bad\nname`, "a name the protocol refuses");
  await Deno.mkdir(`${root}/.tmp`);
  await Deno.writeTextFile(`${root}/.tmp/upload.part`, "never acknowledged");
  return { root, outside };
}

/** Retrieves every generated file and compares it byte for byte; checks each user's list. */
async function assertAllImported(port: number): Promise<void> {
  for (const userId of USERS) {
    using client = await BackupClient.connect({ userId, port });
    const expected = Array.from({ length: FILES }, (_, i) => fileOf(i))
      .filter((file) => file.userId === userId);
    const names = expected.map((file) => new TextEncoder().encode(file.name))
      .sort(compareBytes).map((bytes) => new TextDecoder().decode(bytes));
    assert.deepEqual(await client.list(), names, `user ${userId}'s list, in byte order`);
    for (const file of expected) {
      const chunks: Uint8Array[] = [];
      const size = await client.retrieve(
        file.name,
        new WritableStream({ write: (chunk) => void chunks.push(chunk.slice()) }),
      );
      assert.equal(size, file.bytes.length, file.name);
      assert.ok(sameBytes(concat(...chunks), file.bytes), file.name);
    }
  }
}

Deno.test("a version 1 root of 10,000 files is imported on first start, every byte the same", async () => {
  const { root, outside } = await versionOneRoot();
  try {
    {
      await using t = await startTestServer({ root });
      const logs = t.logs.map((line) => JSON.parse(line));
      const imported = logs.find((entry) => entry.msg === "imported the version 1 layout");
      assert.ok(imported, "the import is logged");
      assert.equal(imported.files, FILES);
      assert.equal(imported.users, USERS.length);
      assert.equal(imported.skipped, 2, "the link and the refused name");
      const skipped = logs.filter((entry) => entry.msg === "left in place, not imported");
      assert.deepEqual(skipped.map((entry) => entry.path.split("/").at(-1)).sort(), [
        "bad\nname",
        "link",
      ]);
      await assertAllImported(t.port);
    }
    // What was imported is gone from the old layout; what was skipped stays where it was.
    const left = (await Array.fromAsync(Deno.readDir(root))).map((entry) => entry.name)
      .filter((name) => !name.startsWith("index.sqlite")).sort();
    assert.deepEqual(
      left,
      ["1", "data", "repo", "server.lock"],
      "the v1 temp folder and emptied user folders are gone",
    );
    const inUserOne = (await Array.fromAsync(Deno.readDir(`${root}/1`))).map((e) => e.name).sort();
    assert.deepEqual(inUserOne, ["bad\nname", "link"]);
    assert.equal(await Deno.readTextFile(`${outside}/secret`), "outside");
    // A second start imports nothing more and changes nothing.
    await using again = await startTestServer({ root });
    assert.equal(versionCount(root), FILES);
    const second = again.logs.map((line) => JSON.parse(line))
      .find((entry) => entry.msg === "imported the version 1 layout");
    assert.equal(second?.files ?? 0, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("an import killed part-way resumes on the next start and loses or doubles nothing", async () => {
  const { root, outside } = await versionOneRoot();
  const flags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...flags,
        new URL("../server.ts", import.meta.url).pathname,
        "--root",
        root,
        "--port",
        "0",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill it once some batches are committed, long before all of them are.
    const deadline = Date.now() + 30_000;
    let lastError: unknown;
    for (;;) {
      let committed = 0;
      try {
        committed = versionCount(root);
      } catch (error) {
        lastError = error; // the index or its table is not created yet
      }
      if (committed > 0) break;
      assert.ok(Date.now() < deadline, `the import started (${lastError})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill("SIGKILL");
    await child.status;
    const atKill = versionCount(root);
    console.log(`killed with ${atKill} of ${FILES} files imported`);
    assert.ok(atKill < FILES, "the kill landed part-way");

    // Quiet: 10,000 request lines would fill the log pipe this test does not read.
    await using server = await spawnServer(["--root", root, "--port", "0", "--quiet"], {
      denoFlags: flags,
    });
    assert.equal(versionCount(root), FILES, "each file once");
    assert.equal(storedNames(root).length, FILES);
    await assertAllImported(server.port);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
