/**
 * One GC run's decisions (storage/s3/gc_plan.ts): a table of marks and what must be deleted and
 * doomed, including the cases of the safety argument (docs/s3_repository_plan.md §3.4). Times are
 * in minutes before the mark μ; G = 60, P_stale = 30 (the defaults).
 */
import assert from "node:assert/strict";
import { type GcMark, type GcPlan, planGc } from "../storage/s3/gc_plan.ts";

const MIN = 60_000;
const MARK = 1_796_000_000_000;
/** `m` minutes before the mark. */
const ago = (m: number) => MARK - m * MIN;

const A = "aaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbb";
const U = "0123456789abcdef"; // an upload's session

interface Case {
  rule: string;
  mark: Partial<GcMark>;
  want: Partial<GcPlan>;
}

const cases: Case[] = [
  {
    rule: "an unreferenced pack at least G old is doomed; a referenced one is not",
    mark: {
      referenced: new Set([`p/7/${A}.1`]),
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(90) }, {
        key: `p/7/${B}.1`,
        lastModifiedMs: ago(90),
      }],
    },
    want: { doom: [`p/7/${B}.1`], deletePacks: [] },
  },
  {
    rule:
      "a pack younger than G is not doomed: its upload's record may be on its way (§3.4 case 1)",
    mark: { packs: [{ key: `p/7/${B}.1`, lastModifiedMs: ago(59) }] },
    want: { doom: [] },
  },
  {
    rule: "exactly G old is old enough",
    mark: { packs: [{ key: `p/7/${B}.1`, lastModifiedMs: ago(60) }] },
    want: { doom: [`p/7/${B}.1`] },
  },
  {
    rule: "a live pin covers every pack of its session, however old (a long upload, §3.4 case 1)",
    mark: {
      pins: [{
        key: `g/pins/${U}`,
        lastModifiedMs: ago(4),
        pin: { userId: 7, session: U, packs: [] },
      }],
      packs: [{ key: `p/7/${U}.1`, lastModifiedMs: ago(300) }, {
        key: `p/8/${U}.1`,
        lastModifiedMs: ago(300),
      }],
    },
    want: { doom: [`p/8/${U}.1`], stalePins: [] },
  },
  {
    rule: "a live pin protects the packs it deduplicated against (§3.4 cases 2-3)",
    mark: {
      pins: [{
        key: `g/pins/${U}`,
        lastModifiedMs: ago(30),
        pin: { userId: 7, session: U, packs: [`p/7/${A}.1`] },
      }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(300) }],
    },
    want: { doom: [] },
  },
  {
    rule: "a pin older than P_stale is a dead upload's: it protects nothing and is deleted",
    mark: {
      pins: [{
        key: `g/pins/${U}`,
        lastModifiedMs: ago(31),
        pin: { userId: 7, session: U, packs: [`p/7/${A}.1`] },
      }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(300) }, {
        key: `p/7/${U}.1`,
        lastModifiedMs: ago(300),
      }],
    },
    want: { doom: [`p/7/${A}.1`, `p/7/${U}.1`], stalePins: [`g/pins/${U}`] },
  },
  {
    rule: "a tombstone G old is swept: its unprotected packs are deleted, then it is",
    mark: {
      tombstones: [{ key: "g/doomed/r1", lastModifiedMs: ago(60), packs: [`p/7/${A}.1`] }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(200) }],
    },
    want: { deletePacks: [`p/7/${A}.1`], doom: [], sweptTombstones: ["g/doomed/r1"] },
  },
  {
    rule: "a tombstone younger than G deletes nothing, and its packs are not doomed twice",
    mark: {
      tombstones: [{ key: "g/doomed/r1", lastModifiedMs: ago(59), packs: [`p/7/${A}.1`] }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(200) }],
    },
    want: { deletePacks: [], doom: [], sweptTombstones: [] },
  },
  {
    rule:
      "a doomed pack a record names again is spared by the sweep, and no longer doomed (§3.4 case 3)",
    mark: {
      referenced: new Set([`p/7/${A}.1`]),
      tombstones: [{ key: "g/doomed/r1", lastModifiedMs: ago(70), packs: [`p/7/${A}.1`] }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(200) }],
    },
    want: { deletePacks: [], doom: [], sweptTombstones: ["g/doomed/r1"] },
  },
  {
    rule: "a doomed pack a running upload deduplicated against (its pin) is spared by the sweep",
    mark: {
      pins: [{
        key: `g/pins/${U}`,
        lastModifiedMs: ago(1),
        pin: { userId: 7, session: U, packs: [`p/7/${A}.1`] },
      }],
      tombstones: [{
        key: "g/doomed/r1",
        lastModifiedMs: ago(70),
        packs: [`p/7/${A}.1`, `p/7/${B}.1`],
      }],
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(200) }, {
        key: `p/7/${B}.1`,
        lastModifiedMs: ago(200),
      }],
    },
    want: { deletePacks: [`p/7/${B}.1`], doom: [], sweptTombstones: ["g/doomed/r1"] },
  },
  {
    rule:
      "a run killed between its sweep and step 7: the re-run deletes no pack twice, sweeps the tombstone",
    mark: {
      tombstones: [{ key: "g/doomed/r1", lastModifiedMs: ago(80), packs: [`p/7/${A}.1`] }],
      packs: [],
    },
    want: { deletePacks: [], doom: [], sweptTombstones: ["g/doomed/r1"] },
  },
  {
    rule: "nothing listed: nothing to do",
    mark: {},
    want: { deletePacks: [], doom: [], sweptTombstones: [], stalePins: [], repack: [] },
  },
  {
    rule: "a pack G old whose live share is under 1/2 is repacked; at 1/2 or more it is not",
    mark: {
      referenced: new Set([`p/7/${A}.1`, `p/7/${B}.1`]),
      liveBytes: new Map([[`p/7/${A}.1`, 499], [`p/7/${B}.1`, 500]]),
      packs: [
        { key: `p/7/${A}.1`, lastModifiedMs: ago(90), size: 1000 },
        { key: `p/7/${B}.1`, lastModifiedMs: ago(90), size: 1000 },
      ],
    },
    want: { repack: [`p/7/${A}.1`], doom: [] },
  },
  {
    rule: "the emptiest packs are repacked first, maxRepacks of them",
    mark: {
      maxRepacks: 2,
      referenced: new Set([`p/7/${A}.1`, `p/7/${A}.2`, `p/7/${A}.3`]),
      liveBytes: new Map([[`p/7/${A}.1`, 300], [`p/7/${A}.2`, 100], [`p/7/${A}.3`, 200]]),
      packs: [1, 2, 3].map((n) => ({ key: `p/7/${A}.${n}`, lastModifiedMs: ago(90), size: 1000 })),
    },
    want: { repack: [`p/7/${A}.2`, `p/7/${A}.3`] },
  },
  {
    rule: "an empty pack is doomed as it is, not repacked",
    mark: {
      liveBytes: new Map(),
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(90), size: 1000 }],
    },
    want: { repack: [], doom: [`p/7/${A}.1`] },
  },
  {
    rule: "a pack younger than G is not repacked (an upload may still be writing its session)",
    mark: {
      referenced: new Set([`p/7/${A}.1`]),
      liveBytes: new Map([[`p/7/${A}.1`, 10]]),
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(59), size: 1000 }],
    },
    want: { repack: [] },
  },
  {
    rule: "a pack in a tombstone, or pinned by a running upload, is not repacked",
    mark: {
      referenced: new Set([`p/7/${A}.1`, `p/7/${B}.1`, `p/7/${U}.1`]),
      liveBytes: new Map([[`p/7/${A}.1`, 10], [`p/7/${B}.1`, 10], [`p/7/${U}.1`, 10]]),
      pins: [{
        key: `g/pins/${U}`,
        lastModifiedMs: ago(1),
        pin: { userId: 7, session: U, packs: [`p/7/${B}.1`] },
      }],
      tombstones: [{ key: "g/doomed/r1", lastModifiedMs: ago(30), packs: [`p/7/${A}.1`] }],
      packs: [A, B, U].map((s) => ({ key: `p/7/${s}.1`, lastModifiedMs: ago(90), size: 1000 })),
    },
    want: { repack: [], doom: [] },
  },
  {
    rule: "repackBelow 0 repacks nothing",
    mark: {
      repackBelow: 0,
      referenced: new Set([`p/7/${A}.1`]),
      liveBytes: new Map([[`p/7/${A}.1`, 1]]),
      packs: [{ key: `p/7/${A}.1`, lastModifiedMs: ago(90), size: 1000 }],
    },
    want: { repack: [] },
  },
];

for (const { rule, mark, want } of cases) {
  Deno.test(`gc plan: ${rule}`, () => {
    const plan = planGc({
      markMs: MARK,
      referenced: new Set(),
      pins: [],
      tombstones: [],
      packs: [],
      ...mark,
    });
    for (const [field, expected] of Object.entries(want)) {
      assert.deepEqual(plan[field as keyof GcPlan], expected, field);
    }
  });
}

Deno.test("gc plan: a pack doomed at one run is deleted at a run G later only if still unprotected", () => {
  const pack = { key: `p/7/${A}.1`, lastModifiedMs: ago(120) };
  const first = planGc({
    markMs: MARK,
    referenced: new Set(),
    pins: [],
    tombstones: [],
    packs: [pack],
  });
  assert.deepEqual(first.doom, [pack.key]);
  // The tombstone lands a minute after the mark; an upload whose view did not have it yet
  // deduplicates against the pack and pins it (W1-W3): the sweep G later spares it.
  const tombstone = { key: "g/doomed/r1", lastModifiedMs: MARK + MIN, packs: first.doom };
  const later = MARK + MIN + 60 * MIN;
  const pin = { userId: 7, session: U, packs: [pack.key] };
  const second = planGc({
    markMs: later,
    referenced: new Set(),
    pins: [{ key: `g/pins/${U}`, lastModifiedMs: later - 5 * MIN, pin }],
    tombstones: [tombstone],
    packs: [pack],
  });
  assert.deepEqual(second, {
    deletePacks: [],
    doom: [],
    sweptTombstones: ["g/doomed/r1"],
    stalePins: [],
    repack: [],
  });
  // Its record stored, the upload deletes its pin; retention later drops the record: the pack is
  // doomed anew, then deleted G after that.
  const third = planGc({
    markMs: later + 10 * MIN,
    referenced: new Set(),
    pins: [],
    tombstones: [],
    packs: [pack],
  });
  assert.deepEqual(third.doom, [pack.key]);
});
