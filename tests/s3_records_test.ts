/**
 * The S3 backend's pure parts, without a store: the record key grammar (vectors for every kind,
 * `z` included, and keys that are not records) and the cache of recent names (TTL from the
 * listing, LRU bound, the newer record kept, forgetting).
 */
import assert from "node:assert/strict";
import { parseRecordKey, type RecordFields, recordKey } from "../storage/s3/keys.ts";
import { RecentNames } from "../storage/s3/recent_names.ts";
import type { FileRecord } from "../storage/s3/histories.ts";

const sha = new Uint8Array(32).map((_, i) => i * 8);
const SHA = "AAgQGCAoMDhASFBYYGhweICIkJigqLC4wMjQ2ODo8Pg";
const VER = "1fffffffffedcb"; // version id 0x1234
const file = { kind: "file" as const, versionId: 0x1234, mtimeMs: 1000, mode: 0o644, sha256: sha };

Deno.test("record keys: vectors of every kind, both ways", () => {
  const vectors: [RecordFields, string][] = [
    [file, `${VER} f 1000 420 ${SHA}`],
    [{ ...file, mode: null }, `${VER} f 1000 - ${SHA}`],
    [{ ...file, zstd: { size: 5400 } }, `${VER} z 1000 420 ${SHA} 5400`],
    [
      { ...file, data: { size: 9437184, dataId: "srv.0e2f" } },
      `${VER} f 1000 420 ${SHA} 9437184 srv.0e2f`,
    ],
    [{ kind: "deleted", versionId: 0x1234 }, `${VER} d`],
  ];
  for (const [fields, text] of vectors) {
    assert.equal(recordKey("P/", 7, "a b!c", fields), `P/u/7/a!!b!"c ${text}`);
    const parsed = parseRecordKey(`a!!b!"c ${text}`);
    assert.equal(parsed.name, "a b!c");
    assert.deepEqual(parsed.fields, fields, text);
  }
});

Deno.test("record keys: what is not a record is refused (and so passed over by listings)", () => {
  for (
    const rest of [
      "README",
      `a ${VER} x 1000 420 ${SHA}`, // a kind no server knows
      `a ${VER} z 1000 420 ${SHA}`, // z without its SIZE
      `a ${VER} z 1000 420 ${SHA} 12 extra`,
      `a ${VER} z 1000 420 ${SHA} -5`,
      `a ${VER} z 1000 420 ${SHA} 1e3`,
      `a ${VER} f 1000 420 ${SHA} 12`, // f with a SIZE but no DATA
      `a ${VER} f 1000 420 short`,
      `a 1234 f 1000 420 ${SHA}`,
    ]
  ) {
    assert.throws(() => parseRecordKey(rest), /not a record key/, rest);
  }
});

const record = (versionId: number): FileRecord => ({
  key: `k${versionId}`,
  objectSize: 0,
  fields: { kind: "file", versionId, mtimeMs: 0, mode: null, sha256: sha },
});

Deno.test("recent names: trusted for the TTL from the listing, not from the last store", () => {
  let now = 0;
  const names = new RecentNames({ ttlMs: 30_000, maxNames: 10, now: () => now });
  assert.equal(names.newest(1, "a"), undefined);
  names.stored(1, "a", record(1), names.listedNow());
  now = 20_000;
  const hit = names.newest(1, "a")!;
  assert.equal(hit.record.fields.versionId, 1);
  names.stored(1, "a", record(2), hit.listedAt); // a replace that used the cache
  now = 29_999;
  assert.equal(names.newest(1, "a")?.record.fields.versionId, 2);
  now = 30_000; // 30 s after the listing, though 10 s after the last store
  assert.equal(names.newest(1, "a"), undefined);
  // Another user's name of the same spelling is another entry.
  names.stored(2, "a", record(3), names.listedNow());
  assert.equal(names.newest(1, "a"), undefined);
  assert.equal(names.newest(2, "a")?.record.fields.versionId, 3);
});

Deno.test("recent names: the newer record wins, forget drops, the least recently used go first", () => {
  const names = new RecentNames({ ttlMs: 30_000, maxNames: 2, now: () => 0 });
  names.stored(1, "a", record(5), 0);
  names.stored(1, "a", record(4), 0); // a commit that began earlier answered later
  assert.equal(names.newest(1, "a")?.record.fields.versionId, 5);
  names.forget(1, "a");
  assert.equal(names.newest(1, "a"), undefined);
  names.stored(1, "a", record(1), 0);
  names.stored(1, "b", record(1), 0);
  names.newest(1, "a"); // used: "b" is now the least recently used
  names.stored(1, "c", record(1), 0);
  assert.ok(names.newest(1, "a"));
  assert.equal(names.newest(1, "b"), undefined);
  assert.ok(names.newest(1, "c"));
  // A TTL of 0 keeps nothing.
  const none = new RecentNames({ ttlMs: 0, maxNames: 2 });
  none.stored(1, "a", record(1), none.listedNow());
  assert.equal(none.newest(1, "a"), undefined);
});
