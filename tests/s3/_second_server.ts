/**
 * A second server on a `TestS3`'s prefix, put together as the engine does (`S3SnapshotStore` over
 * the bucket and a `DoomView`), so that a test can hold one of its LISTs and run its view's
 * background refreshes by hand; and a store of two snapshots in packs of their own, one forgotten
 * (tests/s3/snapshot_doom_background_test.ts, snapshot_pack_gone_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ObjectStore } from "../../objects/object_store.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import { testLocation } from "../../harness/s3_location.ts";
import { DoomView } from "../../storage/s3/doom_view.ts";
import { type GcClock, systemClock } from "../../storage/s3/gc_clock.ts";
import { S3SnapshotStore } from "../../storage/s3/snapshot_store.ts";
import type { IncomingBlob } from "../../storage/snapshots.ts";
import { toHex } from "../../common/hex.ts";
import { dataBlob, noise, treeBlob } from "../_snapshots.ts";
import type { TestS3 } from "./_s3_storage.ts";
import { backup, type Blobs, packsHolding, SNAPSHOT_ENGINE, USER } from "./_snapshot_repack.ts";

const KiB = 1024;
/** The second server's view age limit: far longer than a test, until its clock moves. */
export const VIEW_MAX_AGE_MS = 10 * 60_000;

/** The system's clocks, the monotonic one moved ahead by hand; a sleep ends only when woken. */
export class HandClock implements GcClock {
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

/**
 * Where a LIST is held: before it is sent (it lists the bucket as it is once released), or once the
 * store has answered it (it yields what the bucket held then).
 */
export type ListHeldAt = "request" | "answer";

/** An object store over `inner` that holds one LIST of a prefix until it is released. */
function listGate(inner: ObjectStore) {
  let armed:
    | { prefix: string; at: ListHeldAt; passing: number; held: (release: () => void) => void }
    | undefined;
  const store: ObjectStore = {
    put: (name, body) => inner.put(name, body),
    create: (name) => inner.create(name),
    get: (name, range) => inner.get(name, range),
    stat: (name) => inner.stat(name),
    delete: (name) => inner.delete(name),
    async *list(prefix) {
      const hold = armed?.prefix === prefix && armed.passing-- === 0 ? armed : undefined;
      if (!hold) return yield* inner.list(prefix);
      armed = undefined;
      const answer = hold.at === "answer" ? await Array.fromAsync(inner.list(prefix)) : [];
      const { promise, resolve } = Promise.withResolvers<void>();
      hold.held(resolve);
      await promise;
      yield* hold.at === "answer" ? answer : inner.list(prefix);
    },
  };
  /**
   * Resolves, with its release, once a LIST of `prefix` is held at `at`: the next, or the one after
   * `passing` more.
   */
  const hold = (prefix: string, at: ListHeldAt = "request", passing = 0) =>
    new Promise<() => void>((held) => armed = { prefix, at, passing, held });
  return { store, hold };
}

/** A second server on `s3`'s prefix: its snapshot store, its view and clock, and its held LISTs. */
export function secondServer(s3: TestS3) {
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
export async function twoPacks(s3: TestS3) {
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

/**
 * `twoPacks` and a second server's session on them, warm: its first `missing` answered every blob
 * stored. `await using` closes the session and the server's view.
 */
export async function warmSession(s3: TestS3) {
  const { kept, dead, deadPacks } = await twoPacks(s3);
  const b = secondServer(s3);
  const session = b.snapshots.openSession(USER);
  const warm = {
    kept,
    dead,
    deadPacks,
    b,
    session,
    ids: [...kept, ...dead].map((blob) => blob.id),
    async [Symbol.asyncDispose]() {
      await session.close();
      await b.view.close();
    },
  };
  try {
    await b.clock.asleep();
    assert.deepEqual(
      await session.missing(warm.ids),
      warm.ids.map(() => false),
      "warm: all stored",
    );
    return warm;
  } catch (error) {
    await warm[Symbol.asyncDispose]();
    throw error;
  }
}
