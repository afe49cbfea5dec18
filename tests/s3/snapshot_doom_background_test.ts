/**
 * A `missing` call of a snapshot session whose readiness is held at one LIST (the blob cache's
 * refresh, or the list of the user's packs) while the server's tombstone view reads a doom of an
 * unrelated pack in its background refresh, or goes stale (its background refresh late), on Swift:
 * the call answers stored every blob in a pack no tombstone dooms, and missing every blob of the
 * doomed pack (W1); so does the call after it. Before, the doom made the cache forget the user,
 * and the stale view made every lookup miss: the call answered every blob missing.
 *
 * The second server is put together here as the engine does (`S3SnapshotStore` over the bucket and
 * a `DoomView`), so that the test holds its LIST and runs its view's background loop by hand.
 */
import assert from "node:assert/strict";
import type { ObjectStore } from "../../objects/object_store.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { DoomView } from "../../storage/s3/doom_view.ts";
import { type GcClock, systemClock } from "../../storage/s3/gc_clock.ts";
import { encodeTombstone, tombstonesPrefix } from "../../storage/s3/gc_objects.ts";
import { indexFolder, packsFolder } from "../../storage/s3/keys.ts";
import { S3SnapshotStore } from "../../storage/s3/snapshot_store.ts";
import type { IncomingBlob } from "../../storage/snapshots.ts";
import { toHex } from "../../common/hex.ts";
import { dataBlob, noise, treeBlob } from "../_snapshots.ts";
import { openS3, type TestS3 } from "./_s3_storage.ts";
import { backup, type Blobs, packsHolding, SNAPSHOT_ENGINE, USER } from "./_snapshot_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
/** The view's age limit: far longer than the test, until the clock moves. */
const VIEW_MAX_AGE_MS = 10 * 60_000;

/** The system's clocks, the monotonic one moved ahead by hand; a sleep ends only when woken. */
class HandClock implements GcClock {
  #aheadMs = 0;
  #wake?: () => void;
  #asleep = Promise.withResolvers<void>();

  now(): number {
    return systemClock.now();
  }

  monotonic(): number {
    return systemClock.monotonic() + this.#aheadMs;
  }

  sleep(_ms: number, signal?: AbortSignal): Promise<void> {
    const slept = new Promise<void>((resolve) => {
      this.#wake = resolve;
      signal?.addEventListener("abort", () => resolve(), { once: true });
      if (signal?.aborted) resolve();
    });
    this.#asleep.resolve();
    return slept;
  }

  /** Resolves once a sleep has begun (the view's first refresh is done). */
  asleep(): Promise<void> {
    return this.#asleep.promise;
  }

  /** Ends the sleep under way; resolves once the next begins (the loop's refresh is done). */
  wake(): Promise<void> {
    this.#asleep = Promise.withResolvers();
    this.#wake?.();
    return this.#asleep.promise;
  }

  /** Moves the monotonic clock `ms` ahead. */
  step(ms: number): void {
    this.#aheadMs += ms;
  }
}

/** An object store over `inner` that holds the next LIST of one prefix until it is released. */
function listGate(inner: ObjectStore) {
  let armed: { prefix: string; held: (release: () => void) => void } | undefined;
  const store: ObjectStore = {
    put: (name, body) => inner.put(name, body),
    create: (name) => inner.create(name),
    get: (name, range) => inner.get(name, range),
    stat: (name) => inner.stat(name),
    delete: (name) => inner.delete(name),
    async *list(prefix) {
      if (armed?.prefix === prefix) {
        const { promise, resolve } = Promise.withResolvers<void>();
        armed.held(resolve);
        armed = undefined;
        await promise;
      }
      yield* inner.list(prefix);
    },
  };
  /** Resolves, with its release, once the next LIST of `prefix` is held. */
  const hold = (prefix: string) => new Promise<() => void>((held) => armed = { prefix, held });
  return { store, hold };
}

/** A second server on `s3`'s prefix: its snapshot store, its view and clock, and its held LISTs. */
function secondServer(s3: TestS3) {
  const client = new S3Client(testLocation());
  const objects = listGate(new S3ObjectStore({ client, prefix: s3.prefix }));
  const clock = new HandClock();
  const view = new DoomView({ client, prefix: s3.prefix, maxAgeMs: VIEW_MAX_AGE_MS, clock });
  const snapshots = new S3SnapshotStore({
    client,
    prefix: s3.prefix,
    objects: objects.store,
    view,
    packTargetBytes: SNAPSHOT_ENGINE.packTargetBytes!,
    // Every call refreshes the blob cache: its LIST can be held.
    refreshMs: 0,
    checkQuota: () => Promise.resolve(),
    stored: () => {},
    appendOnlyOf: () => false,
    now: Date.now,
    collectGarbageNow: () => Promise.resolve({ held: false }),
    usage: () => Promise.resolve(0),
  });
  view.start();
  return { snapshots, view, clock, hold: objects.hold };
}

/** Two snapshots in two packs of their own, the one of `dead` forgotten. */
async function twoPacks(s3: TestS3) {
  const all: Blobs = new Map();
  const blobs = (seed: number) =>
    Array.from({ length: 4 }, (_, i) => dataBlob(noise(seed + i, 4 * KiB)));
  const kept = blobs(100);
  const dead = blobs(200);
  const keptRoot = treeBlob(kept.map((blob) => blob.id), "kept");
  const deadRoot = treeBlob(dead.map((blob) => blob.id), "dead");
  for (const blob of [...kept, ...dead, keptRoot, deadRoot]) all.set(toHex(blob.id), blob);
  const snapshots = s3.storage.snapshots!;
  const run = async (blobs: IncomingBlob[], root: IncomingBlob) => {
    const session = snapshots.openSession(USER);
    try {
      return await backup(session, blobs, root, all);
    } finally {
      await session.close();
    }
  };
  await run(kept, keptRoot);
  await snapshots.forgetSnapshot(USER, await run(dead, deadRoot));
  const keptPacks = await packsHolding(s3, [keptRoot.id, ...kept.map((blob) => blob.id)]);
  const deadPacks = await packsHolding(s3, [deadRoot.id, ...dead.map((blob) => blob.id)]);
  assert.ok(![...keptPacks].some((pack) => deadPacks.has(pack)), "no pack holds both");
  return { kept: [keptRoot, ...kept], dead: [deadRoot, ...dead], deadPacks: [...deadPacks] };
}

interface Race {
  what: string;
  /** The LIST the call is held at. */
  held: string;
  /** Whether a tombstone dooms the dead snapshot's pack (else the view goes stale). */
  doom: boolean;
}

const races: Race[] = [
  {
    what: "a doom read in the background during the blob cache's refresh",
    held: indexFolder(USER),
    doom: true,
  },
  {
    what: "a doom read in the background during the list of packs",
    held: packsFolder(USER),
    doom: true,
  },
  {
    what: "the view gone stale during the blob cache's refresh",
    held: indexFolder(USER),
    doom: false,
  },
];

for (const race of races) {
  Deno.test(`s3 snapshot missing, ${race.what}: kept blobs stored, doomed ones missing`, async () => {
    await using s3 = await openS3(SNAPSHOT_ENGINE);
    const { kept, dead, deadPacks } = await twoPacks(s3);
    const b = secondServer(s3);
    const session = b.snapshots.openSession(USER);
    try {
      const ids = [...kept, ...dead].map((blob) => blob.id);
      await b.clock.asleep();
      assert.deepEqual(await session.missing(ids), ids.map(() => false), "warm: all stored");
      // A background refresh with nothing new: the view is newer than the list of packs, which
      // the next call therefore lists again.
      await b.clock.wake();
      if (race.doom) {
        await s3.client.put(
          `${tombstonesPrefix(s3.prefix)}0123456789abcdef`,
          encodeTombstone(deadPacks),
        );
      }
      const held = b.hold(race.held);
      const answer = session.missing(ids);
      const release = await held;
      if (race.doom) {
        await b.clock.wake();
        assert.ok(deadPacks.every((pack) => b.view.isDoomed(pack)), "the view read the doom");
      } else {
        b.clock.step(VIEW_MAX_AGE_MS + 1);
      }
      release();
      const expected = [...kept.map(() => false), ...dead.map(() => race.doom)];
      assert.deepEqual(await answer, expected, "the call held");
      assert.deepEqual(await session.missing(ids), expected, "the next call");
    } finally {
      await session.close();
      await b.view.close();
    }
  });
}
