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

/** An object as the mark listed it (keys relative to the store's prefix). */
export interface Listed {
  /** Relative to the store's prefix. */
  key: string;
  /** As the listing says it (by the store's clock). */
  lastModifiedMs: number;
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
}

/** Decides one run; see the module comment. */
export function planGc(mark: GcMark): GcPlan {
  const graceMs = mark.graceMs ?? DEFAULT_GRACE_MS;
  const pinStaleMs = mark.pinStaleMs ?? DEFAULT_PIN_STALE_MS;
  const oldEnough = mark.markMs - graceMs;
  const livePins = mark.pins.filter(({ lastModifiedMs }) =>
    lastModifiedMs >= mark.markMs - pinStaleMs
  );
  const pinned = new Set(livePins.flatMap(({ pin }) => pin.packs));
  const sessions = livePins.map(({ pin }) => sessionPacksPrefix(pin.userId, pin.session));
  const isProtected = (pack: string) =>
    mark.referenced.has(pack) || pinned.has(pack) ||
    sessions.some((session) => pack.startsWith(session));

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
  return {
    deletePacks: [...deletePacks],
    doom,
    sweptTombstones: swept.map(({ key }) => key),
    stalePins: mark.pins.filter((pin) => !livePins.includes(pin)).map(({ key }) => key),
  };
}
