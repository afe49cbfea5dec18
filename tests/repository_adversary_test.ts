/**
 * The repository as a user with an account would attack it, and as a damaged index would test it:
 * another user's bytes never reach a reader, uploads racing on the same new chunks lose nothing, a
 * dropped upload leaves nothing pinned, and a wrong row in the index never serves wrong bytes
 * silently, never reaches out of the repository, and never stops the server.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../mod.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { encodeRequestHeader, Op } from "../protocol/mod.ts";
import { chunkedCharge, storedBytes, unreferencedFiles } from "../harness/stored.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";
import { eventually, RawClient, sameBytes, startTestServer } from "./_helpers.ts";
import { chunksOf, randomBytes } from "./_packs.ts";
import {
  getBytes,
  MiB,
  openTempStorage,
  packNames,
  put,
  readSome,
  retrieveBytes,
  rowCount,
  withIndex,
  WRITE_BYTES,
} from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a reader of a file its owner deleted never gets another user's bytes (no version id is reused)", async () => {
  await using t = await openTempStorage({ retention: { keepDays: 0 } });
  // More chunks than a reader's page of places (64): it asks the index again mid-file.
  const mine = randomBytes(80 * MiB);
  await put(t.storage, 1, "mine", mine);
  assert.ok(chunksOf(t.root, 1, "mine").length > 64);
  const reader = await t.storage.open(1, "mine");
  try {
    const head = await readSome(reader, 1000);
    await t.storage.delete(1, "mine"); // its list of chunks is kept for the reader
    await put(t.storage, 2, "theirs", randomBytes(80 * MiB)); // takes the next version id
    const tail = await readSome(reader, mine.length);
    assert.ok(sameBytes(head, mine.subarray(0, 1000)));
    assert.ok(sameBytes(tail, mine.subarray(1000)), "the rest is the reader's own file");
  } finally {
    reader[Symbol.dispose]();
  }
});

Deno.test("a replace with keepDays 0: the new version's list of chunks is its own, not the old one's too", async () => {
  await using t = await openTempStorage({ retention: { keepDays: 0 }, packTargetBytes: MiB });
  const old = await put(t.storage, 1, "f", randomBytes(4 * MiB));
  const replacement = randomBytes(4 * MiB);
  const now = await put(t.storage, 1, "f", replacement);
  assert.notEqual(now.versionId, old.versionId);
  assert.ok(sameBytes(storedBytes(t.root, 1, "f")!, replacement), "read straight from the index");
  assert.ok(sameBytes(await getBytes(t.storage, 1, "f"), replacement));
});

for (const order of ["abort, then commit", "commit, then abort", "both commit"] as const) {
  Deno.test(`two uploads of the same new chunks at once (${order}): nothing committed is lost`, async () => {
    await using t = await openTempStorage({ retention: { keepDays: 0 }, packTargetBytes: 2 * MiB });
    const bytes = randomBytes(8 * MiB);
    const one = await t.storage.beginUpload(1, "one", { size: bytes.length });
    const two = await t.storage.beginUpload(1, "two", { size: bytes.length });
    for (let at = 0; at < bytes.length; at += WRITE_BYTES) {
      await one.write(bytes.subarray(at, at + WRITE_BYTES));
      await two.write(bytes.subarray(at, at + WRITE_BYTES));
    }
    const kept = order === "both commit" ? ["one", "two"] : ["two"];
    if (order === "abort, then commit") {
      await one.abort();
      await two.commit();
    } else if (order === "commit, then abort") {
      await two.commit();
      await one.abort();
    } else {
      await one.commit();
      await two.commit();
    }
    await t.storage.prune();
    for (const name of kept) {
      assert.ok(sameBytes(await getBytes(t.storage, 1, name), bytes), `${name} whole`);
    }
    const charge = chunkedCharge(bytes) + kept.length * indexVersionCharge(3);
    assert.equal(await t.storage.usage(1), charge, "the chunks are charged once");
    assert.deepEqual(await unreferencedFiles(t.root), [], "the aborted upload's packs are gone");
    assert.deepEqual((await verifyRoot({ root: t.root, data: "all" })).problems, []);
  });
}

Deno.test("an upload cut off mid-way pins nothing for good: the chunks it found go once nothing names them", async () => {
  await using t = await startTestServer({ retention: { keepDays: 0 }, packTargetBytes: 2 * MiB });
  const bytes = randomBytes(8 * MiB);
  {
    using client = await BackupClient.connect({ userId: 1, port: t.port });
    await client.backup("f", bytesSource(bytes), bytes.length);
  }
  const cut = await RawClient.connect(t.port);
  await cut.send(
    encodeRequestHeader({ userId: 1, op: Op.Backup, name: "g", payloadSize: bytes.length }),
  );
  await cut.send(bytes.subarray(0, 6 * MiB)); // dedups against f's chunks: pins them
  await eventually(() => Promise.resolve(t.server.stats().uploadsInFlight === 1), "the upload");
  cut[Symbol.dispose]();
  await eventually(() => Promise.resolve(t.server.stats().uploadsInFlight === 0), "its end");
  {
    using client = await BackupClient.connect({ userId: 1, port: t.port });
    await client.delete("f");
  }
  await t.server.storage.prune();
  assert.equal(rowCount(t.root, "blobs"), 0, "no chunk is kept by a pin nobody will release");
  assert.deepEqual(await packNames(t.root), []);
  assert.equal(await t.server.storage.usage(1), 0);
});

Deno.test("an index row placing a chunk past its pack's end: the retrieve fails, the server serves on", async () => {
  await using t = await startTestServer({ packTargetBytes: MiB });
  const bad = randomBytes(4 * MiB);
  const good = randomBytes(100_000);
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await client.backup("bad", bytesSource(bad), bad.length);
  await client.backup("good", bytesSource(good), good.length);
  const [, second] = chunksOf(t.root, 1, "bad");
  withIndex(t.root, (db) => {
    db.prepare("UPDATE blobs SET offset = offset + 100000000 WHERE id = ?").run(second.id);
  });
  await assert.rejects(retrieveBytes(client, "bad"));
  using again = await BackupClient.connect({ userId: 1, port: t.port });
  assert.ok(sameBytes(await retrieveBytes(again, "good"), good), "the server serves on");
});

Deno.test("an index row placing a chunk at the wrong offset inside its pack never serves wrong bytes silently", async () => {
  await using t = await startTestServer({ packTargetBytes: 4 * MiB });
  const bytes = randomBytes(4 * MiB); // random: stored as they are, so any offset "decodes"
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await client.backup("f", bytesSource(bytes), bytes.length);
  const [first] = chunksOf(t.root, 1, "f");
  withIndex(t.root, (db) => {
    db.prepare("UPDATE blobs SET offset = offset + 1 WHERE id = ?").run(first.id);
  });
  // Today's client (protocol v1) checks nothing: the server must not answer with other bytes.
  const served = await retrieveBytes(client, "f").catch(() => undefined);
  assert.ok(served === undefined || sameBytes(served, bytes), "a failed retrieve, not wrong bytes");
});

Deno.test("a pack name in the index that leads out of the repository is never read nor removed", async () => {
  await using t = await startTestServer({ packTargetBytes: MiB });
  const victim = `${t.root}/victim`;
  const secret = new TextEncoder().encode("outside the repository".repeat(100_000));
  await Deno.writeFile(victim, secret);
  const bytes = randomBytes(2 * MiB);
  using client = await BackupClient.connect({ userId: 1, port: t.port });
  await client.backup("f", bytesSource(bytes), bytes.length);
  const [first] = chunksOf(t.root, 1, "f");
  withIndex(t.root, (db) => {
    db.prepare("UPDATE packs SET name = ? WHERE name = ?").run("packs/../../victim", first.pack);
    db.prepare(
      "INSERT INTO packs (name, user_id, size, data_bytes, blob_bytes, written_ms) VALUES (?, 1, 0, 0, 0, 0)",
    ).run("../victim");
  });
  const served = await retrieveBytes(client, "f").catch(() => undefined);
  assert.ok(served === undefined || sameBytes(served, bytes), "nothing from outside is served");
  await t.server.storage.prune().catch(() => {}); // an empty pack named out of the repository
  assert.ok(sameBytes(await Deno.readFile(victim), secret), "the file outside is untouched");
  assert.ok((await packNames(t.root)).length > 0);
  await Deno.stat(`${t.root}/${REPOSITORY_DIR_NAME}`);
});
