import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { filesUnder, RawClient, requestFrame, startTestServer, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A root with user 1's real file, and a folder outside the root holding a secret. */
async function plantedRoot() {
  const outside = await Deno.makeTempDir({ prefix: "backup-test-outside-" });
  await Deno.writeTextFile(`${outside}/secret`, "outside the root");
  const t = await startTestServer();
  await Deno.mkdir(`${t.root}/1`);
  await Deno.writeTextFile(`${t.root}/1/real.txt`, "real");
  await Deno.mkdir(`${t.root}/2`);
  await Deno.writeTextFile(`${t.root}/2/theirs`, "user 2's");
  return {
    t,
    outside,
    async [Symbol.asyncDispose]() {
      await t[Symbol.asyncDispose]();
      await Deno.remove(outside, { recursive: true });
    },
  };
}

Deno.test("a link to a file outside the root is never read, written, deleted or listed", async () => {
  await using planted = await plantedRoot();
  const { t, outside } = planted;
  await Deno.symlink(`${outside}/secret`, `${t.root}/1/link`);
  using client = await RawClient.connect(t.port);
  await client.send(requestFrame(1, Op.Retrieve, "link"));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  await client.send(requestFrame(1, Op.Backup, "link", utf8("overwritten?")));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  await client.send(requestFrame(1, Op.Delete, "link"));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  await client.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  const listed = new TextDecoder().decode((await client.readResponse()).payload);
  assert.equal(listed, "real.txt\n");
  assert.equal(await Deno.readTextFile(`${outside}/secret`), "outside the root");
  assert.ok((await Deno.lstat(`${t.root}/1/link`)).isSymlink);
});

Deno.test("a linked folder (to another user or outside) is never passed through", async () => {
  await using planted = await plantedRoot();
  const { t, outside } = planted;
  await Deno.symlink(`${t.root}/2`, `${t.root}/1/to-user-2`);
  await Deno.symlink(outside, `${t.root}/1/to-outside`);
  using client = await RawClient.connect(t.port);
  for (const dir of ["to-user-2", "to-outside"]) {
    const target = dir === "to-user-2" ? "theirs" : "secret";
    await client.send(requestFrame(1, Op.Retrieve, `${dir}/${target}`));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError, dir);
    await client.send(requestFrame(1, Op.Backup, `${dir}/planted`, utf8("x")));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError, dir);
    await client.send(requestFrame(1, Op.Delete, `${dir}/${target}`));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError, dir);
  }
  await client.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal(new TextDecoder().decode((await client.readResponse()).payload), "real.txt\n");
  assert.deepEqual(await filesUnder(outside), ["secret"]);
  assert.deepEqual(await filesUnder(`${t.root}/2`), ["theirs"]);
});

Deno.test("a user folder that is itself a link is refused", async () => {
  await using planted = await plantedRoot();
  const { t, outside } = planted;
  await Deno.symlink(outside, `${t.root}/3`);
  using client = await RawClient.connect(t.port);
  await client.send(encodeRequestHeader({ userId: 3, op: Op.List }));
  assert.equal((await client.readResponse()).header.status, Status.NoFiles);
  await client.send(requestFrame(3, Op.Retrieve, "secret"));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  await client.send(requestFrame(3, Op.Backup, "new", utf8("x")));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  assert.deepEqual(await filesUnder(outside), ["secret"]);
  const warnings = t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === "warn");
  assert.ok(warnings.length >= 2, "each refusal is logged as a warning for the operator");
});
