/**
 * A GC run's plan with the snapshots' part (`snapshot_mark.ts`) and the snapshot packs to repack
 * (`snapshot_repack.ts`), made from what the mark read (pure: the run does the requests).
 *
 * What the snapshots keep depends on what the run deletes (trees of the packs it keeps count) and
 * on what it repacks (what only trees of packs that go name is kept in place, not copied), so:
 *
 * 1. the plan without snapshots gives the packs the run would delete;
 * 2. a walk with every **eligible** snapshot pack movable (at least G and the blob grace old, in
 *    no tombstone, not pinned) gives each one's live bytes, once per place;
 * 3. the plan with those picks the packs to repack (live share under `repackBelow`, not zero, the
 *    emptiest first, `maxRepacks` at most, with the records' packs);
 * 4. a walk with only the picked packs movable (and the eligible ones with nothing live, which go
 *    as they are) gives what snapshots keep and which blobs repack copies (of every movable pack
 *    with a live blob); the plan with that is the run's (its repack list: the records' packs
 *    picked in 3). A pack picked may hold more live bytes now (a dead tree of a pack not picked
 *    counts): it is repacked all the same (the copy is wasted, nothing is lost).
 *
 * Each walk is repeated until it says no movable pack must stay (`SnapshotMark.stay`: it holds
 * what only trees of packs that go name), those it said made fixed: such a pack is not picked in
 * 3, nor repacked or doomed in 4. It ends: each repeat has fewer movable packs. The second walk
 * says none: what a tree of a pack made fixed names was already kept in place by the first (it
 * was movable), so it has a fixed copy, a copy live in both, or copies that stayed and are fixed.
 *
 * @module
 */
import { type GcMark, type GcPlan, pinnedBy, planGc } from "./gc_plan.ts";
import { markSnapshots, type SnapshotMark, type SnapshotObjects } from "./snapshot_mark.ts";

/** What the plan is made of. */
export interface SnapshotPlanInput {
  /** The records' mark, as `planGc` takes it (`referenced` and `liveBytes` from the records). */
  mark: GcMark;
  /** The snapshot objects the mark read. */
  objects: SnapshotObjects;
  /** How long a snapshot session's packs are kept whatever references them. */
  blobGraceMs: number;
}

/** The run's plan, the snapshots' part, and the snapshot packs to repack. */
export interface SnapshotPlan {
  /** Its `repack`: the records' packs only. */
  plan: GcPlan;
  /** With `live`: the blobs to copy out of each of `repack`. */
  snapshots: SnapshotMark;
  /** Snapshot packs (`p/USER/NAME`) to repack, then doom. */
  repack: string[];
}

/** Makes the plan; see the module comment. */
export function planWithSnapshots(input: SnapshotPlanInput): SnapshotPlan {
  const { mark, objects } = input;
  const graceMs = mark.graceMs!;
  const deletes = new Set(planGc(mark).deletePacks);
  const doomed = new Set(mark.tombstones.flatMap(({ packs }) => packs));
  const pinned = pinnedBy(mark);
  const oldEnough = mark.markMs - Math.max(graceMs, input.blobGraceMs);
  const ages = new Map(mark.packs.map(({ key, lastModifiedMs }) => [key, lastModifiedMs]));
  const eligible = (pack: string) =>
    (mark.repackBelow ?? 1) > 0 && (ages.get(pack) ?? Infinity) <= oldEnough &&
    !doomed.has(pack) && !pinned(pack);
  const walk = (movable: (pack: string) => boolean, places: boolean) =>
    markSnapshots(objects, {
      markMs: mark.markMs,
      graceMs,
      blobGraceMs: input.blobGraceMs,
      packs: mark.packs,
      deletes: (pack) => deletes.has(pack),
      doomed: (pack) => doomed.has(pack),
      movable,
      places,
    });
  /** The packs made fixed because a walk said they stay. */
  const stayed = new Set<string>();
  const stable = (movable: (pack: string) => boolean, places: boolean) => {
    for (;;) {
      const snapshots = walk((pack) => movable(pack) && !stayed.has(pack), places);
      if (snapshots.stay.size === 0) return snapshots;
      for (const pack of snapshots.stay) stayed.add(pack);
    }
  };
  const estimate = stable(eligible, false);
  const picked = planGc({
    ...mark,
    referenced: new Set([...mark.referenced, ...estimate.referenced]),
    liveBytes: new Map([...mark.liveBytes ?? [], ...estimate.liveBytes]),
  }).repack;
  // Movable again: the packs picked, and those with nothing live, which go as they are; not
  // those that stayed (`stayed` carries over: their live bytes were not counted).
  const chosen = new Set(picked.filter((pack) => estimate.liveBytes.has(pack)));
  const snapshots = stable(
    (pack) => chosen.has(pack) || (eligible(pack) && !estimate.liveBytes.has(pack)),
    true,
  );
  const plan = planGc({
    ...mark,
    referenced: new Set([...mark.referenced, ...snapshots.referenced]),
  });
  return {
    plan: { ...plan, repack: picked.filter((pack) => !chosen.has(pack)) },
    snapshots,
    // With what is live in them now (a pack with nothing live before may have some now).
    repack: [...snapshots.live.keys()],
  };
}
