import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { RawClient, requestFrame, startTestServer, utf8 } from "./_helpers.ts";
import { packsOf, storedNames } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A folder outside the root holding a secret. */
async function outsideFolder() {
  const dir = await Deno.makeTempDir({ prefix: "backup-test-outside-" });
  await Deno.writeTextFile(`${dir}/secret`, "outside the root");
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("names are keys: a name that looks like a path never leaves the index", async () => {
  await using t = await startTestServer();
  using client = await RawClient.connect(t.port);
  // A user folder as the version 1 layout had it, with a link: nothing of it is a stored name now.
  await client.send(requestFrame(1, Op.Backup, "1/etc/passwd", utf8("just a name")));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  // The deepest legal name (511 levels) costs one row, not 510 folders.
  const deep = "d/".repeat(510) + "f";
  await client.send(requestFrame(1, Op.Backup, deep, new Uint8Array()));
  assert.equal((await client.readResponse()).header.status, Status.Done);
  assert.deepEqual(storedNames(t.root), [`1/${deep}`, "1/1/etc/passwd"].sort());
  for await (const entry of Deno.readDir(t.root)) {
    assert.match(
      entry.name,
      /^(index\.sqlite(-wal|-shm)?|data|repo|server\.lock)$/,
      "only the engine's own files",
    );
  }
});

Deno.test("a link or FIFO planted in place of a pack is refused, never followed or waited on", async () => {
  await using outside = await outsideFolder();
  await using t = await startTestServer();
  using client = await RawClient.connect(t.port);
  for (const [fill, name] of ["linked", "fifo"].entries()) {
    const big = new Uint8Array(100_000).fill(fill + 5); // two contents: two packs
    await client.send(requestFrame(1, Op.Backup, name, big));
    assert.equal((await client.readResponse()).header.status, Status.Done);
  }
  const [linked] = packsOf(t.root, 1, "linked");
  await Deno.remove(linked);
  await Deno.symlink(`${outside.dir}/secret`, linked);
  const [fifo] = packsOf(t.root, 1, "fifo");
  await Deno.remove(fifo);
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo");
  for (const name of ["linked", "fifo"]) {
    await client.send(requestFrame(1, Op.Retrieve, name));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError, name);
  }
  // The server is not stuck: it answers on the same connection.
  await client.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal(new TextDecoder().decode((await client.readResponse()).payload), "fifo\nlinked\n");
  assert.equal(await Deno.readTextFile(`${outside.dir}/secret`), "outside the root");
  const warnings = t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === "warn");
  assert.equal(warnings.length, 2, "each refusal is a warning for the operator");
});

Deno.test("a root whose data folder, a shard or the index is a link does not start", async () => {
  await using outside = await outsideFolder();
  for (const planted of ["data", "data/00", "index.sqlite"]) {
    const root = await Deno.makeTempDir({ prefix: "backup-test-root-" });
    try {
      if (planted === "data/00") await Deno.mkdir(`${root}/data`);
      await Deno.symlink(
        planted === "index.sqlite" ? `${outside.dir}/secret` : outside.dir,
        `${root}/${planted}`,
      );
      await assert.rejects(startTestServer({ root }), /not usable: .*(link|symbolic)/, planted);
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(outside.dir))).map((entry) => entry.name),
        ["secret"],
        planted,
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});
