/**
 * The tree and snapshot record formats of protocol version 3 (docs/snapshots_plan.md §1): byte-exact
 * vectors, canonical order, and every refusal, so that a tree read back is one `encodeTree` could
 * have written and an unchanged folder always has the same id.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CorruptTreeError,
  decodeTree,
  encodeTree,
  MAX_TREE_BYTES,
  type TreeEntry,
  treeRefs,
} from "../protocol/v3/tree.ts";
import {
  CorruptSnapshotError,
  decodeSnapshot,
  encodeSnapshot,
  type SnapshotRecord,
} from "../protocol/v3/snapshot.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (value: string) => new TextEncoder().encode(value);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const ID_A = "0".repeat(63) + "a";
const ID_B = "b".repeat(64);
const base = {
  mode: 0o644,
  mtimeMs: 1733500000123,
  atimeMs: 1733500000456,
  uid: 1000,
  gid: 100,
  inode: 42,
  device: 2049,
  links: 1,
};

Deno.test("a tree's bytes are canonical: fixed key order, entries sorted by their UTF-8 bytes", () => {
  const entries: TreeEntry[] = [
    { ...base, name: "é", type: "file", size: 3, content: [ID_A] },
    { ...base, name: "Z", type: "dir", mode: 0o700, subtree: ID_B, ctimeMs: 5 },
    { ...base, name: "a", type: "symlink", target: "../x", user: "ann", group: "staff" },
  ];
  const bytes = encodeTree({ entries });
  assert.equal(
    text(bytes),
    '{"entries":[' +
      '{"name":"Z","type":"dir","mode":448,"mtimeMs":1733500000123,"atimeMs":1733500000456,' +
      '"ctimeMs":5,"uid":1000,"gid":100,"inode":42,"device":2049,"links":1,"subtree":"' + ID_B +
      '"},' +
      '{"name":"a","type":"symlink","mode":420,"mtimeMs":1733500000123,"atimeMs":1733500000456,' +
      '"uid":1000,"gid":100,"user":"ann","group":"staff","inode":42,"device":2049,"links":1,' +
      '"target":"../x"},' +
      '{"name":"é","type":"file","mode":420,"mtimeMs":1733500000123,"atimeMs":1733500000456,' +
      '"uid":1000,"gid":100,"inode":42,"device":2049,"links":1,"size":3,"content":["' + ID_A +
      '"]}]}',
  );
  // The id pins the bytes: any change of the format changes it.
  assert.equal(sha256(bytes), sha256(encodeTree({ entries: [...entries].reverse() })));
  assert.deepEqual(
    decodeTree(bytes).entries.map((entry) => entry.name),
    ["Z", "a", "é"],
  );
  assert.deepEqual(treeRefs(decodeTree(bytes)), [ID_B, ID_A]);
  assert.equal(text(encodeTree({ entries: [] })), '{"entries":[]}');
});

Deno.test("a tree that encodeTree could not have written is refused", () => {
  const file = { ...base, name: "f", type: "file", size: 0, content: [] };
  const good = text(encodeTree({ entries: [file as TreeEntry] }));
  const refused: [string, string][] = [
    ["not JSON", "{"],
    ["another top-level key", good.replace('{"entries"', '{"x":1,"entries"')],
    ["spaces", good.replace('"name":"f"', '"name": "f"')],
    ["keys out of order", good.replace('"name":"f","type":"file"', '"type":"file","name":"f"')],
    ["a float", good.replace('"links":1', '"links":1.5')],
    ["a negative id", good.replace('"uid":1000', '"uid":-1')],
    ["an unknown key", good.replace('"size":0', '"size":0,"xattr":1')],
    ["an unknown type", good.replace('"type":"file"', '"type":"fifo"')],
    ["mode beyond 0o7777", good.replace('"mode":420', '"mode":33188')],
    ["a name with a slash", good.replace('"name":"f"', '"name":"a/b"')],
    ["the name ..", good.replace('"name":"f"', '"name":".."')],
    ["an empty name", good.replace('"name":"f"', '"name":""')],
    ["a NUL in a name", good.replace('"name":"f"', '"name":"a\\u0000"')],
    ["a lone surrogate", good.replace('"name":"f"', '"name":"\\ud800"')],
    ["a bad id", good.replace('"content":[]', '"content":["AB"]')],
    ["an upper-case id", good.replace('"content":[]', `"content":["${ID_B.toUpperCase()}"]`)],
  ];
  for (const [what, json] of refused) {
    assert.notEqual(json, good, `${what}: the case changes the bytes`);
    assert.throws(() => decodeTree(bytesOf(json)), CorruptTreeError, what);
  }
  const latin1 = bytesOf(good.replace('"name":"f"', '"name":"X"'));
  latin1[latin1.indexOf(0x58)] = 0xff; // the X becomes a byte that is not UTF-8
  assert.throws(() => decodeTree(latin1), CorruptTreeError, "not UTF-8");
  const twice = `{"entries":[${good.slice(12, -2)},${good.slice(12, -2)}]}`;
  assert.throws(() => decodeTree(bytesOf(twice)), CorruptTreeError, "two entries of one name");
  const unsorted = { ...file, name: "g" };
  const pair = text(encodeTree({ entries: [file as TreeEntry, unsorted as TreeEntry] }));
  const swapped = pair.replace('"name":"f"', '"name":"h"');
  assert.throws(() => decodeTree(bytesOf(swapped)), CorruptTreeError, "not sorted");
  assert.throws(
    () => decodeTree(new Uint8Array(MAX_TREE_BYTES + 1)),
    CorruptTreeError,
    "over the limit, refused before parsing",
  );
});

Deno.test("a snapshot record is canonical, its id is the SHA-256 of its bytes, and it round-trips", () => {
  const summary = {
    files: 3,
    dirs: 2,
    bytes: 100,
    filesNew: 1,
    filesChanged: 1,
    filesUnmodified: 1,
    bytesAdded: 40,
  };
  const record: SnapshotRecord = {
    timeMs: 1733500000000,
    tree: ID_A,
    paths: ["/home/ann"],
    host: "laptop",
    user: "ann",
    tags: ["daily"],
    parent: ID_B,
    summary,
  };
  const bytes = encodeSnapshot(record);
  assert.equal(
    text(bytes),
    `{"timeMs":1733500000000,"tree":"${ID_A}","paths":["/home/ann"],"host":"laptop",` +
      `"user":"ann","tags":["daily"],"parent":"${ID_B}","summary":{"files":3,"dirs":2,` +
      `"bytes":100,"filesNew":1,"filesChanged":1,"filesUnmodified":1,"bytesAdded":40}}`,
  );
  assert.deepEqual(decodeSnapshot(bytes), record);
  const { parent: _, ...first } = record;
  assert.deepEqual(decodeSnapshot(encodeSnapshot(first)), first);
  const good = text(bytes);
  for (
    const [what, json] of [
      ["summary key missing", good.replace('"bytesAdded":40', '"extra":40')],
      ["unknown key", good.replace('"host"', '"hostname":"x","host"')],
      ["bad tree id", good.replace(ID_A, "x")],
      [
        "keys out of order",
        good.replace(
          `{"timeMs":1733500000000,"tree":"${ID_A}",`,
          `{"tree":"${ID_A}","timeMs":1733500000000,`,
        ),
      ],
      ["not an object", "[]"],
    ]
  ) {
    assert.notEqual(json, good, `${what}: the case changes the bytes`);
    assert.throws(() => decodeSnapshot(bytesOf(json)), CorruptSnapshotError, what);
  }
  assert.throws(
    () =>
      encodeSnapshot({
        ...record,
        tags: ["x".repeat(4000)].concat(Array(20).fill("y".repeat(4000))),
      }),
    CorruptSnapshotError,
    "over 64 KiB",
  );
});
