/**
 * What one GC run deletes and dooms (steps 4, 5 and 7 of docs/s3_repository_plan.md §3.3), decided
 * from what its mark read, by the store's clock alone (pure: the run does the requests).
 *
 * - A pack is **protected** if a record's chunk list names it, or a live pin (LastModified at or
 *   after μ − P_stale) lists it or covers it by its session (`p/USER/SESSION.`).
 * - **Sweep** (step 4): each tombstone at least G old (LastModified ≤ μ − G) is swept: its packs
 *   that still exist and are not protected are deleted; the protected ones are simply no longer
 *   doomed.
 * - **Doom** (step 5): packs at least G old, not protected, and in no tombstone younger than G, go
 *   into this run's tombstone. Young packs may belong to an upload whose record is on its way.
 * - **Swept tombstones** are deleted last (step 7), after the index objects (step 6), so that no
 *   index names their packs any more; pins older than P_stale belong to dead uploads and go too.
 * - **Repack** (§3.6): packs at least G old, in no tombstone, not protected by a live pin, whose
 *   live bytes (what the records name, once per place) are under `repackBelow` of their size but
 *   not zero, the emptiest first, `maxRepacks` at most. The run copies their live chunks, rewrites
 *   the records, then dooms them (`repack.ts`); an empty pack is doomed as it is.
 *
 * Why a pack an upload relies on is never deleted: §3.4 of the plan; tests/gc_plan_test.ts walks
 * its cases.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planGc } from "./gc_plan.ts";
 * const HOUR = 3_600_000;
 * const plan = planGc({
 *   markMs: 10 * HOUR,
 *   referenced: new Set(["p/7/aaaaaaaaaaaaaaaa.1"]),
 *   pins: [],
 *   tombstones: [],
 *   packs: [
 *     { key: "p/7/aaaaaaaaaaaaaaaa.1", lastModifiedMs: HOUR },
 *     { key: "p/7/bbbbbbbbbbbbbbbb.1", lastModifiedMs: HOUR },
 *   ],
 * });
 * assert.deepEqual(plan.doom, ["p/7/bbbbbbbbbbbbbbbb.1"]);
 * ```
 *
 * @module
 */
import { type Pin, sessionPacksPrefix } from "./gc_objects.ts";

/** G = 1 h ≥ 3R/4 + 2F + 2 min: a tombstone's grace and a doomed pack's minimum age (§3.1). */
export const DEFAULT_GRACE_MS = 60 * 60_000;
/** P_stale = 30 min ≥ R/2 + F + margin: a pin older than this is dead (§3.1). */
export const DEFAULT_PIN_STALE_MS = 30 * 60_000;
/** A pack is repacked when its live bytes are under this share of its size (as embedded). */
export const DEFAULT_REPACK_BELOW = 0.5;
/** Packs repacked per run at most (as embedded). */
export const DEFAULT_MAX_REPACKS = 64;

/** An object as the mark listed it (keys relative to the store's prefix). */
export interface Listed {
  /** Relative to the store's prefix. */
  key: string;
  /** As the listing says it (by the store's clock). */
  lastModifiedMs: number;
  /** Its size, as listed (packs: what their live bytes are compared with). */
  size?: number;
}

/** What the mark of one run found. */
export interface GcMark {
  /** μ: the store's time when the run took its lock (`GcLock.storeTimeMs`), before its LISTs. */
  markMs: number;
  /** Every pack a record's chunk list names (`p/USER/NAME`). */
  referenced: ReadonlySet<string>;
  /** `g/pins/`, each with its body (a pin that does not decode stops the run before this). */
  pins: readonly (Listed & { pin: Pin })[];
  /** `g/doomed/`, each with its packs. */
  tombstones: readonly (Listed & { packs: readonly string[] })[];
  /** `p/`: every pack. */
  packs: readonly Listed[];
  /** G. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** P_stale. @default DEFAULT_PIN_STALE_MS */
  pinStaleMs?: number;
  /** Stored bytes of the chunks records name in each pack (`p/USER/NAME`); none: no repack. */
  liveBytes?: ReadonlyMap<string, number>;
  /** Repack a pack whose live share is under this (0: never). @default DEFAULT_REPACK_BELOW */
  repackBelow?: number;
  /** Packs repacked per run at most. @default DEFAULT_MAX_REPACKS */
  maxRepacks?: number;
}

/** What the run does, in this order: delete packs, (index), PUT a tombstone, delete the rest. */
export interface GcPlan {
  /** Step 4: packs of swept tombstones that no record names and no live pin protects. */
  deletePacks: string[];
  /** Step 5: this run's tombstone (none if empty). */
  doom: string[];
  /** Step 7: the tombstones swept in step 4. */
  sweptTombstones: string[];
  /** Pins of dead uploads (older than P_stale). */
  stalePins: string[];
  /** Packs to repack (then doom), the emptiest first. */
  repack: string[];
}

/**
 * Whether a live pin (LastModified at or after μ − P_stale) protects a pack (`p/USER/NAME`): it
 * lists it, or covers it by its session.
 */
export function pinnedBy(
  mark: Pick<GcMark, "markMs" | "pins" | "pinStaleMs">,
): (pack: string) => boolean {
  const live = mark.pins.filter(({ lastModifiedMs }) =>
    lastModifiedMs >= mark.markMs - (mark.pinStaleMs ?? DEFAULT_PIN_STALE_MS)
  );
  const pinned = new Set(live.flatMap(({ pin }) => pin.packs));
  const sessions = live.map(({ pin }) => sessionPacksPrefix(pin.userId, pin.session));
  return (pack) => pinned.has(pack) || sessions.some((session) => pack.startsWith(session));
}

/** Decides one run; see the module comment. */
export function planGc(mark: GcMark): GcPlan {
  const graceMs = mark.graceMs ?? DEFAULT_GRACE_MS;
  const pinStaleMs = mark.pinStaleMs ?? DEFAULT_PIN_STALE_MS;
  const oldEnough = mark.markMs - graceMs;
  const livePins = mark.pins.filter(({ lastModifiedMs }) =>
    lastModifiedMs >= mark.markMs - pinStaleMs
  );
  const isPinned = pinnedBy(mark);
  const isProtected = (pack: string) => mark.referenced.has(pack) || isPinned(pack);

  const existing = new Set(mark.packs.map(({ key }) => key));
  const swept = mark.tombstones.filter(({ lastModifiedMs }) => lastModifiedMs <= oldEnough);
  const deletePacks = new Set<string>();
  for (const tombstone of swept) {
    for (const pack of tombstone.packs) {
      if (existing.has(pack) && !isProtected(pack)) deletePacks.add(pack);
    }
  }
  const stillDoomed = new Set(
    mark.tombstones.filter(({ lastModifiedMs }) => lastModifiedMs > oldEnough).flatMap((
      { packs },
    ) => packs),
  );
  const doom = mark.packs.filter(({ key, lastModifiedMs }) =>
    lastModifiedMs <= oldEnough && !isProtected(key) && !stillDoomed.has(key) &&
    !deletePacks.has(key)
  ).map(({ key }) => key);
  // Not a pack of any tombstone read, spared or not: its fate is decided by the sweeps.
  const inTombstones = new Set(mark.tombstones.flatMap(({ packs }) => packs));
  const below = mark.repackBelow ?? DEFAULT_REPACK_BELOW;
  const repack = mark.packs.flatMap(({ key, lastModifiedMs, size }) => {
    const live = mark.liveBytes?.get(key) ?? 0;
    if (live === 0 || !size || lastModifiedMs > oldEnough) return [];
    if (inTombstones.has(key) || isPinned(key) || live / size >= below) return [];
    return [{ key, share: live / size }];
  }).sort((a, b) => a.share - b.share).slice(0, mark.maxRepacks ?? DEFAULT_MAX_REPACKS);
  return {
    deletePacks: [...deletePacks],
    doom,
    sweptTombstones: swept.map(({ key }) => key),
    stalePins: mark.pins.filter((pin) => !livePins.includes(pin)).map(({ key }) => key),
    repack: repack.map(({ key }) => key),
  };
}
