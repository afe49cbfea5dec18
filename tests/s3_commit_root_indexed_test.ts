/**
 * An S3 snapshot session never stores a snapshot whose root tree no index object names: a cache
 * dropped while the commit waits (a view gone stale, a user evicted; a doom read, before it marked
 * a reload instead) made the commit's flush pass over the root, and a server killed before the
 * session's close left a snapshot nobody could restore. The session runs over a folder store with fakes for the bucket's
 * view, pin and pack list (what it asks of them is their contract).
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import { DedupCache } from "../storage/s3/dedup_cache.ts";
import { S3SnapshotSession } from "../storage/s3/snapshot_session.ts";
import type { DoomView } from "../storage/s3/doom_view.ts";
import type { UploadPin } from "../storage/s3/pins.ts";
import { sha256 } from "../storage/blob_check.ts";
import type { IncomingBlob } from "../storage/snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 1;

function blob(kind: "data" | "tree", text: string, refs?: Uint8Array[]): IncomingBlob {
  const bytes = new TextEncoder().encode(text);
  return { id: sha256(bytes), kind, encoding: "raw", rawLength: bytes.length, bytes, refs };
}

/** A store, its cache, and sessions over it; `during` runs while a commit checks the quota. */
async function bucket(root: string) {
  const store = await FolderStore.open({ root });
  const blobs = new DedupCache({ store, indexes: "blobs", drops: true });
  // A view that a refresh makes fresh, as the real one does (or it throws).
  const view = {
    fresh: true,
    ready() {
      this.fresh = true;
      return Promise.resolve();
    },
    isDoomed: () => false,
  };
  const listed = new Set<string>();
  const pin = {
    addPacks: () => {},
    throwIfFailed: () => {},
    signRecordAt: () => Promise.resolve(Date.now()),
    end: () => Promise.resolve(),
  } as unknown as UploadPin;
  let during: (() => void) | undefined;
  const session = (id: string) =>
    new S3SnapshotSession({
      userId: USER,
      session: id,
      store,
      packStore: store,
      blobs,
      view: view as unknown as DoomView,
      pin,
      packTargetBytes: 1 << 20,
      put: (name, body) => store.put(name, body),
      checkQuota: () => {
        during?.();
        during = undefined;
        return Promise.resolve();
      },
      stored: () => {},
      packs: {
        refresh: async () => {
          for await (const { name } of store.list(`p/${USER}/`)) listed.add(name);
        },
        has: (pack) => listed.has(pack),
        add: (pack) => void listed.add(pack),
      },
      now: () => Date.now(),
      released: () => {},
    });
  return { store, blobs, view, session, duringQuota: (work: () => void) => during = work };
}

const cases: Array<[string, (b: DedupCache, view: { fresh: boolean }) => void]> = [
  ["a reload marked at a doom", (b) => b.reloadUsersIn([`p/${USER}/00000000000000a1.1`])],
  ["the view gone stale", (_, view) => view.fresh = false],
  ["the user evicted from the cache", (b) => b.clear()],
];

for (const [what, drop] of cases) {
  Deno.test(`a commit during which ${what} indexes its root before it stores the snapshot`, async () => {
    const root = await Deno.makeTempDir({ prefix: "backup-s3-commit-" });
    try {
      const { store, blobs, view, session, duringQuota } = await bucket(root);
      const data = blob("data", "the data blob");
      const first = session("00000000000000a1");
      await first.put(data);
      const one = blob("tree", "tree one", [data.id]);
      await first.put(one);
      const record1 = new TextEncoder().encode("record one");
      assert.deepEqual(await first.commit({ id: sha256(record1), tree: one.id, record: record1 }), {
        missing: [],
      });
      await first.close();
      // A second run relies on the first's blob; its cache is dropped while it commits.
      const second = session("00000000000000b2");
      assert.deepEqual(await second.missing([data.id]), [false]);
      const two = blob("tree", "tree two", [data.id]);
      await second.put(two);
      duringQuota(() => drop(blobs, view));
      const record2 = new TextEncoder().encode("record two");
      const answer = await second.commit({ id: sha256(record2), tree: two.id, record: record2 });
      assert.deepEqual(answer, { missing: [] });
      // Killed here, before its close: a cold server finds both roots in the index objects.
      const snapshots = await Array.fromAsync(store.list(`s/${USER}/`));
      assert.equal(snapshots.length, 2, "both snapshots stored");
      const cold = new DedupCache({ store, indexes: "blobs", drops: true });
      await cold.refresh(USER);
      assert.ok(cold.lookup(USER, one.id), "the first root is indexed");
      assert.ok(cold.lookup(USER, two.id), "the second root is indexed");
      await second.close();
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
