/**
 * What each write costs the store, counted through `onRequest` on a real S3 engine: under default
 * retention, a replace of a name this server stored lately is one PUT and no LIST; with
 * `keepVersions`, `keepDays: 0`, append-only, the TTL at 0, or after this server's own delete, the
 * name is listed again; and two servers on one bucket still see each other's writes on every read.
 */
import assert from "node:assert/strict";
import { freshPrefix } from "../../harness/s3_location.ts";
import { allOf, openS3, readWhole, store } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const LIST = "ListObjectsV2";
const PUT = "PutObject";
/** The calls counted, without the bucket checks of opening. */
const calls = (counts: Map<string, number>) =>
  Object.fromEntries([...counts].filter(([call]) => !call.endsWith("Bucket")));

Deno.test("s3: under default retention, a replace of a name stored lately is 1 PUT and 0 LIST", async () => {
  await using s3 = await openS3();
  await s3.storage.settled(); // the prune at open (its GC takes the prune lock: a PUT)
  s3.resetCounts();
  await store(s3.storage, 1, "docs/a.txt", bytes("first"));
  // A new name: its newest key, then the conflict checks (below it, and the folder above).
  assert.equal(s3.counts.get(PUT), 1);
  assert.ok((s3.counts.get(LIST) ?? 0) >= 2, JSON.stringify(calls(s3.counts)));
  for (let i = 0; i < 5; i++) {
    s3.resetCounts();
    await store(s3.storage, 1, "docs/a.txt", bytes(`replace ${i}`));
    await s3.storage.settled();
    assert.deepEqual(calls(s3.counts), { [PUT]: 1 }, `replace ${i}`);
  }
  // Every version is there, in order, and the newest is current.
  const versions = await allOf(s3.storage.versions(1, "docs/a.txt"));
  assert.equal(versions.length, 6);
  assert.ok(versions.every((v, i) => i === 0 || v.versionId > versions[i - 1].versionId));
  assert.deepEqual(await readWhole(s3.storage, 1, "docs/a.txt"), bytes("replace 4"));
});

Deno.test("s3: the name is listed again with keepVersions, keepDays 0, append-only, or no TTL", async () => {
  const cases = {
    keepVersions: { retention: { keepVersions: 3 } },
    "keepDays 0": { retention: { keepDays: 0 } },
    "append-only": { appendOnlyOf: () => true },
    "TTL 0": { recentNamesTtlMs: 0 },
  };
  for (const [what, options] of Object.entries(cases)) {
    await using s3 = await openS3(options);
    await store(s3.storage, 1, "a", bytes("first"));
    await s3.storage.settled();
    s3.resetCounts();
    await store(s3.storage, 1, "a", bytes("second"));
    await s3.storage.settled();
    assert.equal(s3.counts.get(PUT), 1, what);
    assert.ok((s3.counts.get(LIST) ?? 0) >= 1, `${what}: ${JSON.stringify(calls(s3.counts))}`);
    assert.deepEqual(await readWhole(s3.storage, 1, "a"), bytes("second"), what);
  }
});

Deno.test("s3: after this server's own delete, the next store of the name lists it again", async () => {
  await using s3 = await openS3();
  await store(s3.storage, 1, "x", bytes("1"));
  await s3.storage.delete(1, "x");
  s3.resetCounts();
  await store(s3.storage, 1, "x", bytes("2"));
  // Deleted, the name may have become a folder: the conflict checks run.
  assert.ok((s3.counts.get(LIST) ?? 0) >= 2, JSON.stringify(calls(s3.counts)));
  assert.deepEqual(await readWhole(s3.storage, 1, "x"), bytes("2"));
});

Deno.test("s3: two servers on one bucket see each other's writes on every read", async () => {
  const prefix = freshPrefix();
  await using a = await openS3({}, prefix);
  await using b = await openS3({}, prefix);
  const read = async (s3: typeof a, name: string) =>
    new TextDecoder().decode(await readWhole(s3.storage, 1, name));

  await store(a.storage, 1, "shared", bytes("a1"));
  assert.equal(await read(b, "shared"), "a1");
  // A replaces from its cache (1 PUT): B lists on its read and serves the new version at once.
  // A's prune at open runs in the background and lists: it must be done before A counts.
  await a.storage.settled();
  a.resetCounts();
  await store(a.storage, 1, "shared", bytes("a2"));
  assert.deepEqual(calls(a.counts), { [PUT]: 1 });
  assert.equal(await read(b, "shared"), "a2");
  // B stores a version: A, which has "shared" cached, still reads what B stored.
  await store(b.storage, 1, "shared", bytes("b3"));
  assert.equal(await read(a, "shared"), "b3");
  assert.equal((await a.storage.stat(1, "shared"))?.size, 2);
  const listed = [];
  for await (const page of (await a.storage.list(1)).pages) listed.push(page);
  assert.equal(new TextDecoder().decode(listed[0]), "shared\n");
  // B deletes it: A's reads see the deletion, whatever A has cached.
  await b.storage.delete(1, "shared");
  assert.equal(await a.storage.stat(1, "shared"), undefined);
  // Every version is in both servers' history, B's deletion last.
  for (const s3 of [a, b]) {
    const versions = await allOf(s3.storage.versions(1, "shared"));
    assert.equal(versions.length, 3);
    assert.equal(versions[2].deleted, true);
  }
});
