import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { Storage } from "../server/storage.ts";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("folders a delete removes between an upload's folder check and its rename are made again", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-test-root-" });
  const rename = Deno.rename;
  try {
    const { storage } = await Storage.open({ root });
    const upload = storage.beginUpload(1, "a/b/new");
    await upload.write(new TextEncoder().encode("new"));
    let removed = 0;
    // The delete of the folders' last file wins the race once: its folders go just before the rename.
    Deno.rename = async (from, to) => {
      if (removed++ === 0) await Deno.remove(`${root}/1/a`, { recursive: true });
      return await rename(from, to);
    };
    await upload.commit();
    assert.equal(removed, 2, "renamed again after making the folders again");
    assert.equal(await Deno.readTextFile(`${root}/1/a/b/new`), "new");
  } finally {
    Deno.rename = rename;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("uploads and deletes in the same folders over the protocol: every upload lands", async () => {
  await using t = await startTestServer();
  const bytes = (text: string) => ReadableStream.from([new TextEncoder().encode(text)]);
  const connect = () => BackupClient.connect({ userId: 1, port: t.port });
  const workers = 8;
  const rounds = 25;
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    using deleter = await connect();
    using uploader = await connect();
    for (let round = 0; round < rounds; round++) {
      const folder = `w${worker}/r${round}`;
      await uploader.backup(`${folder}/old`, bytes("old"), 3);
      // The delete removes `old`, then the folders it leaves empty; the upload needs them.
      await Promise.all([
        deleter.delete(`${folder}/old`),
        uploader.backup(`${folder}/new`, bytes("new"), 3),
      ]);
    }
  }));
  using client = await connect();
  const names = new Set(await client.list());
  for (let worker = 0; worker < workers; worker++) {
    for (let round = 0; round < rounds; round++) {
      assert.ok(names.has(`w${worker}/r${round}/new`), `w${worker}/r${round}/new`);
    }
  }
  assert.equal(names.size, workers * rounds);
});
