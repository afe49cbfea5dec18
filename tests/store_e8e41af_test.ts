/**
 * A store written by e8e41af (schema 5, chunks and packs before snapshots) opens with today's code:
 * converted in place to schema 6, every version reads back byte for byte, usage is what it was,
 * verify is clean, and a snapshot can name the chunks its v2 files stored.
 */
import assert from "node:assert/strict";
import { chunksOf } from "../harness/stored.ts";
import { SCHEMA_VERSION } from "../storage/embedded/schema.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";
import { snapshotCharge } from "../storage/embedded/schema_snapshots.ts";
import { getBytes, openTempStorage, withIndex } from "./_repository.ts";
import { sameBytes, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FIXTURE = new URL("./fixtures/store-e8e41af/", import.meta.url).pathname;
/** The clock of `make_store.ts.txt`, a minute after its last step. */
const NOW = 1_769_000_000_000 + 6 * 60_000;

/** The bytes `make_store.ts.txt` wrote from `seed` (the same formula). */
function textBytes(seed: number, size: number): Uint8Array {
  const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
  const out = new Uint8Array(size);
  const encoder = new TextEncoder();
  let x = seed >>> 0;
  for (let at = 0; at < size;) {
    x = (x * 1103515245 + 12345) >>> 0;
    const word = encoder.encode(words[x % 8] + (x % 5 === 0 ? `${x % 1000}\n` : " "));
    out.set(word.subarray(0, size - at), at);
    at += word.length;
  }
  return out;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === "README.md" || entry.name.endsWith(".txt")) continue;
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

Deno.test("a schema 5 store written by e8e41af opens: schema 6 in place, every version byte for byte, snapshots share its chunks", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-e8e41af-" });
  try {
    await copyTree(FIXTURE, root);
    const encoder = new TextEncoder();
    await using t = await openTempStorage({ root, now: () => NOW });
    const schema = withIndex(root, (db) => db.prepare("PRAGMA user_version").get()) as {
      user_version: number;
    };
    assert.equal(schema.user_version, SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, 7, "through schema 6 to 7");

    const big = textBytes(1, 300 * 1024);
    assert.ok(sameBytes(await getBytes(t.storage, 1, "big/one.bin"), big));
    assert.ok(sameBytes(await getBytes(t.storage, 1, "big/same.bin"), big));
    assert.ok(sameBytes(await getBytes(t.storage, 2, "other.bin"), textBytes(2, 200 * 1024)));
    const small = await getBytes(t.storage, 1, "notes/small.txt");
    assert.deepEqual(small, encoder.encode("second version, replacing the first\n"));
    using listing = await t.storage.versions(1, "notes/small.txt");
    const versions = (await Array.fromAsync(listing.pages)).flat();
    assert.equal(versions.length, 2);
    assert.deepEqual(
      await getBytes(t.storage, 1, "notes/small.txt", versions[0].versionId),
      encoder.encode("first version of a small file\n"),
    );
    assert.equal(await t.storage.usage(1), 10709, "as schema 5 charged it");
    assert.equal(await t.storage.usage(2), 9813);
    const rows = withIndex(
      root,
      (db) =>
        db.prepare("SELECT kind, unclaimed_ms, released_seq, refs FROM blobs ORDER BY blob_no")
          .all(),
    );
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [
        { kind: 0, unclaimed_ms: null, released_seq: 0, refs: 2 },
        { kind: 0, unclaimed_ms: null, released_seq: 0, refs: 1 },
      ],
      "schema 5's chunks: data, claimed, named by their versions",
    );

    // A snapshot naming the chunk the v2 files stored: found, not sent, charged once (and the
    // snapshot its record).
    const chunkIds = chunksOf(root, 1, "big/one.bin").map((chunk) => chunk.id);
    const session = t.storage.snapshots.openSession(1);
    assert.deepEqual(await session.missing(chunkIds), chunkIds.map(() => false));
    const tree = treeBlob(chunkIds, "over v2's chunks");
    await session.put(tree);
    assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
    await session.close();
    assert.equal(
      await t.storage.usage(1),
      10709 + tree.bytes.length + BLOB_OVERHEAD_BYTES +
        snapshotCharge(snapshotOf(tree).record.length),
    );
    const report = await verifyRoot({ root, data: "all" });
    assert.deepEqual(report.problems, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
