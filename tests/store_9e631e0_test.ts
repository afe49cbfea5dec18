/**
 * A store written by 9e631e0 (schema 6, versions and snapshots before key slots) opens with
 * today's code: converted in place to schema 7, every version and every snapshot's blob reads back
 * byte for byte, usage is what it was, verify is clean, and key slots follow the mode rule: a
 * user with plain snapshots cannot add a first one, a user without snapshots can.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "../common/hex.ts";
import { decodeBlob } from "../repository/blob_codec.ts";
import { SCHEMA_VERSION } from "../storage/embedded/schema.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { keySlotCharge, PlainSnapshotsError } from "../storage/snapshots.ts";
import { getBytes, openTempStorage, withIndex } from "./_repository.ts";
import { fakeSlot } from "./_key_slots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FIXTURE = new URL("./fixtures/store-9e631e0/", import.meta.url).pathname;
/** The clock of `make_store.ts.txt`, a minute after its last step. */
const NOW = 1_770_000_000_000 + 7 * 60_000;
const encoder = new TextEncoder();

/** The bytes `make_store.ts.txt` wrote from `seed` (the same formula). */
function textBytes(seed: number, size: number): Uint8Array {
  const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let at = 0; at < size;) {
    x = (x * 1103515245 + 12345) >>> 0;
    const word = encoder.encode(words[x % 8] + (x % 5 === 0 ? `${x % 1000}\n` : " "));
    out.set(word.subarray(0, size - at), at);
    at += word.length;
  }
  return out;
}

/** The noise `make_store.ts.txt` wrote from `seed` (the same formula). */
function noise(seed: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** A tree's bytes as `make_store.ts.txt` made them. */
function treeBytes(refs: Uint8Array[], label: string): Uint8Array {
  return encoder.encode(JSON.stringify({ label, refs: refs.map(toHex) }));
}

/** A snapshot's record as `make_store.ts.txt` made it. */
function recordOf(tree: Uint8Array, label: string): Uint8Array {
  return encoder.encode(JSON.stringify({ tree: toHex(sha256(tree)), label }));
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === "README.md" || entry.name.endsWith(".txt")) continue;
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

Deno.test("a schema 6 store written by 9e631e0 opens: schema 7 in place, every version, snapshot and blob byte for byte, key slots added by the mode rule", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-9e631e0-" });
  try {
    await copyTree(FIXTURE, root);
    await using t = await openTempStorage({ root, now: () => NOW });
    const schema = withIndex(root, (db) => db.prepare("PRAGMA user_version").get()) as {
      user_version: number;
    };
    assert.equal(schema.user_version, SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, 7);

    // The v2 files.
    assert.deepEqual(
      await getBytes(t.storage, 1, "notes/small.txt"),
      encoder.encode("a small file beside the snapshots\n"),
    );
    assert.deepEqual(await getBytes(t.storage, 1, "big/one.bin"), textBytes(1, 300 * 1024));
    assert.deepEqual(
      await getBytes(t.storage, 3, "only/plain.txt"),
      encoder.encode("user 3 has files and no snapshot\n"),
    );

    // The snapshots, in the order stored, and every blob they reach.
    const d1 = textBytes(3, 40 * 1024), d2 = noise(4, 8 * 1024), d3 = textBytes(5, 30 * 1024);
    const treeA = treeBytes([sha256(d1), sha256(d2)], "first");
    const treeB = treeBytes([sha256(treeA), sha256(d3)], "second");
    const treeC = treeBytes([sha256(d1)], "other");
    const expected = new Map<number, Array<[Uint8Array, string, number]>>([
      [1, [[treeA, "first", 4], [treeB, "second", 5]]],
      [2, [[treeC, "other", 6]]],
      [3, []],
    ]);
    for (const [userId, snapshots] of expected) {
      const listed = await Array.fromAsync(t.storage.snapshots.listSnapshots(userId));
      assert.deepEqual(
        listed.map((s) => ({ id: toHex(s.id), tree: toHex(s.tree), storedMs: s.storedMs })),
        snapshots.map(([tree, label, step]) => ({
          id: toHex(sha256(recordOf(tree, label))),
          tree: toHex(sha256(tree)),
          storedMs: 1_770_000_000_000 + step * 60_000,
        })),
      );
      listed.forEach((s, i) =>
        assert.deepEqual(s.record, recordOf(snapshots[i][0], snapshots[i][1]))
      );
    }
    const blobs: Array<[number, Uint8Array, "data" | "tree"]> = [
      [1, d1, "data"],
      [1, d2, "data"],
      [1, d3, "data"],
      [1, treeA, "tree"],
      [1, treeB, "tree"],
      [2, d1, "data"],
      [2, treeC, "tree"],
    ];
    for (const [userId, raw, kind] of blobs) {
      const stored = await t.storage.snapshots.readBlob(userId, sha256(raw));
      assert.equal(stored.kind, kind);
      const compression = stored.encoding === "zstd" ? "zstd" : "none";
      assert.deepEqual(decodeBlob(stored.bytes, compression, stored.rawLength), raw);
    }
    assert.equal(await t.storage.usage(1), 26628, "as schema 6 charged it");
    assert.equal(await t.storage.usage(2), 4407);
    assert.equal(await t.storage.usage(3), 345);

    // Every repository starts plain: user 1's snapshots refuse a first slot, user 3 takes one.
    assert.deepEqual(await t.storage.snapshots.listKeySlots(1), []);
    await assert.rejects(t.storage.snapshots.addKeySlot(1, fakeSlot(1)), PlainSnapshotsError);
    await t.storage.snapshots.addKeySlot(3, fakeSlot(1));
    assert.deepEqual(await t.storage.snapshots.listKeySlots(3), [fakeSlot(1)]);
    assert.equal(await t.storage.usage(3), 345 + keySlotCharge(fakeSlot(1).length));
    assert.deepEqual((await verifyRoot({ root, data: "all" })).problems, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
