/**
 * A server whose tombstone view first reads a repack's doom inside a `missing` call, on Swift: the
 * view's doom marks the user's blob cache for a reload (`DedupCache.reloadUsersIn`), whose entries
 * answer until the reload is read, and that call still answers the kept blobs stored (at the
 * repack's copies), rather than every one missing.
 *
 * The second server refreshes its view in the background only at its start; its view's clock is
 * moved by hand past the view's age limit just before the call, so the one refresh after the doom
 * is the one the call's own readiness runs.
 */
import assert from "node:assert/strict";
import type { GcClock } from "../../storage/s3/gc_clock.ts";
import { systemClock } from "../../storage/s3/gc_clock.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { FAST_GC, pruneUntil, recording } from "./_gc.ts";
import { openS3 } from "./_s3_storage.ts";
import {
  doomedPacks,
  LAYOUT_PACKS,
  packsHolding,
  SNAPSHOT_ENGINE,
  storeLayout,
  USER,
} from "./_snapshot_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

/** The view's age limit on the second server: far longer than the test, until the clock moves. */
const VIEW_MAX_AGE_MS = 10 * 60_000;

/** The system's clocks, the monotonic one moved ahead by hand (the wall clock signs requests). */
class SteppedClock implements GcClock {
  #aheadMs = 0;

  now(): number {
    return systemClock.now();
  }

  monotonic(): number {
    return systemClock.monotonic() + this.#aheadMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }

  /** Moves the monotonic clock `ms` ahead. */
  step(ms: number): void {
    this.#aheadMs += ms;
  }
}

Deno.test("s3 snapshot doom read inside missing: the kept blobs are answered stored, not resent", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...SNAPSHOT_ENGINE, gc: recording(reports) });
  const clock = new SteppedClock();
  // No background refresh after the first, and a view fresh until the clock is moved.
  await using early = await openS3({
    ...SNAPSHOT_ENGINE,
    gc: {
      ...FAST_GC,
      clock,
      viewMaxAgeMs: VIEW_MAX_AGE_MS,
      viewRefreshMs: 24 * 3_600_000,
      viewDropAfterMs: 24 * 3_600_000,
    },
  }, s3.prefix);
  const layout = await storeLayout(s3);
  const keptIds = [layout.keptRoot.id, layout.kept.id, ...layout.keeps.map((blob) => blob.id)];
  const allStored = keptIds.map(() => false);

  // The second server's cache reads the old places.
  const warm = early.storage.snapshots!.openSession(USER);
  try {
    assert.deepEqual(await warm.missing(keptIds), allStored, "warm: every kept blob stored");
  } finally {
    await warm.close();
  }

  // The 8 packs of the live blobs repacked and doomed (after `kept`'s pack), not swept yet.
  const oldPlaces = await packsHolding(s3, layout.keeps.map((blob) => blob.id));
  const repacked = () => reports.reduce((sum, r) => sum + (r.snapshotPacksRepacked ?? 0), 0);
  await pruneUntil(
    s3.storage,
    reports,
    () => repacked() >= LAYOUT_PACKS + 1,
    "the repacks",
    60_000,
  );
  const doomed = await doomedPacks(s3);
  assert.ok([...oldPlaces].some((pack) => doomed.has(pack)), "a tombstone names the old packs");

  // The view is now too old: the call's readiness refreshes it, and reads the doom first.
  clock.step(VIEW_MAX_AGE_MS + 1);
  const again = early.storage.snapshots!.openSession(USER);
  try {
    assert.deepEqual(await again.missing(keptIds), allStored, "nothing to resend");
  } finally {
    await again.close();
  }
});
