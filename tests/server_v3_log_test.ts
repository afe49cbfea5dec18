/**
 * The operator log of a version 3 connection over a real socket: blob requests answered as asked
 * are summed up in one `blob requests` line when the connection ends, not a line each; a failed
 * one keeps its line, and so does every other request; the stats count all of them.
 */
import assert from "node:assert/strict";
import { OpV3, StatusV3 } from "../protocol/v3/mod.ts";
import { eventually, startTestServer } from "./_helpers.ts";
import { makeKey, usersFileText } from "./_v2.ts";
import { putData, putTree, RawV3, sha256 } from "./_v3.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 78;
const text = (value: string) => new TextEncoder().encode(value);

Deno.test("blob requests are one line per connection; a failed one and the other requests have their own", async () => {
  const alice = await makeKey();
  const usersDir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  await Deno.writeTextFile(`${usersDir}/users.json`, usersFileText([{ id: USER, keys: [alice] }]));
  await using t = await startTestServer({ access: { usersFile: `${usersDir}/users.json` } });
  const puts = Array.from({ length: 40 }, (_, i) => putData(USER, 100 + i, text(`blob ${i} `)));
  const lying = { ...putData(USER, 9, text("the bytes")), id: sha256(text("other bytes")) };
  const tree = putTree(USER, 10, puts.map((put) => put.id));
  const snapshot = text('{"label":"logged"}');
  {
    using raw = await RawV3.connect(t.port);
    const welcome = await raw.signIn(USER, alice);
    assert.equal(welcome?.kind, "handshake");
    assert.equal(welcome.response.status, StatusV3.Authenticated);
    await raw.request(
      { op: OpV3.Missing, userId: USER, tag: 1, ids: puts.map((put) => put.id) },
      ...puts,
      lying,
      tree,
      {
        op: OpV3.CommitSnapshot,
        userId: USER,
        tag: 2,
        id: sha256(snapshot),
        tree: tree.id,
        record: snapshot,
      },
      { op: OpV3.GetBlob, userId: USER, tag: 3, id: puts[0].id },
      { op: OpV3.ListSnapshots, userId: USER, tag: 4 },
    );
    // Missing, the puts, the lying put, the tree, the commit, the GetBlob, the list and its snapshot.
    for (let answered = 0; answered < puts.length + 7; answered++) await raw.next();
    assert.deepEqual(await raw.next(), { kind: "end-of-snapshots", tag: 4 });
  }
  const lines = () => t.logs.map((line) => JSON.parse(line));
  await eventually(
    () => Promise.resolve(lines().some((line) => line.msg === "blob requests")),
    "the connection's blob requests line",
  );
  const blobLines = lines().filter((line) => ["missing", "put-blob", "get-blob"].includes(line.op));
  assert.equal(blobLines.length, 1, JSON.stringify(blobLines));
  assert.equal(blobLines[0].msg, "request failed");
  assert.equal(blobLines[0].status, StatusV3.Refused);
  for (const op of ["list-snapshots", "commit-snapshot"]) {
    assert.ok(lines().some((line) => line.op === op && line.msg === "request"), op);
  }
  assert.ok(lines().some((line) => line.op === "auth" && line.status === StatusV3.Authenticated));
  const summary = lines().filter((line) => line.msg === "blob requests");
  assert.equal(summary.length, 1);
  assert.equal(summary[0].userId, USER);
  assert.deepEqual(summary[0].requests, {
    "missing": { [StatusV3.MissingIds]: 1 },
    "put-blob": { [StatusV3.Done]: puts.length + 1 },
    "get-blob": { [StatusV3.Blob]: 1 },
  });
  const sent = [...puts, tree].reduce((sum, put) => sum + put.bytes.length, 0);
  assert.equal(summary[0].bytesIn, sent);
  assert.equal(summary[0].bytesOut, puts[0].bytes.length);
  const stats = t.server.stats();
  assert.equal(stats.requests["put-blob"][StatusV3.Done], puts.length + 1);
  assert.equal(stats.requests["put-blob"][StatusV3.Refused], 1);
  assert.equal(stats.requests["get-blob"][StatusV3.Blob], 1);
  await Deno.remove(usersDir, { recursive: true });
});
