/**
 * The snapshot mark's walk (storage/s3/snapshot_repack_mark.ts), pure: a dead tree in a pack that
 * goes (repacked, or in a tombstone) may have been answered present to a session still running on
 * another server, which relies on everything below it without pinning those packs. What it names
 * must stay for this run (as a dead tree of a doomed pack's does) and go one run later, never with
 * its pack; it stays in place (its pack is not repacked), it is not copied. What a live tree names
 * is still copied out of a pack repack moves.
 */
import assert from "node:assert/strict";
import { CHUNK_ENTRY_BYTES, ChunkTableBuilder, sortedById } from "../storage/s3/chunk_list.ts";
import { PackClass, walkSnapshots } from "../storage/s3/snapshot_repack_mark.ts";

/** A 32-byte id made of one repeated byte. */
const idOf = (byte: number) => new Uint8Array(32).fill(byte);

/** A blob: its id byte, its pack, its kind, and the id bytes a tree names. */
type Place = [number, string, "tree" | "data", number[]?];

/**
 * Walks the blobs `places` with roots `roots` and pack classes `classes` (others fixed); gives
 * the packs kept and staying, and the live blobs as "ID@PACK".
 */
function walk(places: Place[], roots: number[], classes: Record<string, PackClass>) {
  const builder = new ChunkTableBuilder();
  for (const [byte, pack, kind] of places) {
    builder.add({
      id: idOf(byte),
      pack,
      offset: 0,
      storedLength: 10,
      rawLength: 10,
      compression: "none",
      kind,
    });
  }
  const table = sortedById(builder.table());
  const seen = new Set<number>();
  const trees = places.filter(([byte, , kind]) =>
    kind === "tree" && !seen.has(byte) && seen.add(byte)
  ).map(([byte, , , named]) => ({
    id: idOf(byte),
    refs: new Uint8Array((named ?? []).flatMap((other) => [...idOf(other)])),
  })).sort((a, b) => a.id[0] - b.id[0]);
  const { kept, live, stay } = walkSnapshots({
    table,
    trees,
    roots: roots.map(idOf),
    classOf: (pack) => classes[pack] ?? PackClass.Fixed,
  });
  const names = (set: Set<number>) => new Set([...set].map((at) => table.packs[at]));
  const copied = [...live.keys()].filter((at) => live[at] === 1).map((at) => {
    const place = places.find(([byte]) => byte === table.entries[at * CHUNK_ENTRY_BYTES]);
    return `${place![0]}@${place![1]}`;
  });
  return { kept: names(kept), stay: names(stay), copied: copied.sort() };
}

const { Movable, Doomed, Deleted } = PackClass;

Deno.test("a dead tree of a movable pack keeps what it names in place: that pack stays, nothing is copied for it", () => {
  // Root R names keeper k (pack p). Dead tree T shares p; it names c (pack c, fixed, in a swept
  // tombstone's pack when deleted) and d (pack q, movable); only T names c and d.
  const ROOT = 1, K = 2, T = 3, C = 4, D = 5;
  const places: Place[] = [
    [ROOT, "root", "tree", [K]],
    [K, "p", "data"],
    [T, "p", "tree", [C, D]],
    [C, "c", "data"],
    [D, "q", "data"],
  ];
  const found = walk(places, [ROOT], { p: Movable, q: Movable });
  assert.deepEqual(found.copied, ["2@p"], "the keeper is copied, not the dead tree, not d");
  assert.deepEqual(found.stay, new Set(["q"]), "d's pack stays as it is this run");
  assert.ok(found.kept.has("c") && found.kept.has("q"), "what the dead tree names is kept");
  // c's pack, which the run would delete, is kept after all.
  const deleted = walk(places, [ROOT], { p: Movable, q: Movable, c: Deleted });
  assert.ok(deleted.kept.has("c"), "a pack the run would delete stays for the dead tree");
  // Once q is fixed (the plan walks again), nothing more stays and d is kept there.
  const again = walk(places, [ROOT], { p: Movable });
  assert.deepEqual(again.stay, new Set(), "the second walk says none stay");
  assert.deepEqual(again.copied, ["2@p"]);
  assert.ok(again.kept.has("q"));
});

Deno.test("a blob a live tree and a dead tree both name is copied once, its pack not kept in place", () => {
  // Root R names d (pack q, movable); dead tree T (pack p, movable) names d too.
  const ROOT = 1, T = 3, D = 5, K = 6;
  const found = walk(
    [
      [ROOT, "root", "tree", [D, K]],
      [K, "p", "data"],
      [T, "p", "tree", [D]],
      [D, "q", "data"],
    ],
    [ROOT],
    { p: Movable, q: Movable },
  );
  assert.deepEqual(found.copied, ["5@q", "6@p"], "d copied once, with the keeper");
  assert.deepEqual(found.stay, new Set(), "no pack stays: the copy is indexed before the doom");
});

Deno.test("a dead tree's references into its own pack go with it", () => {
  // Dead tree T (pack p, movable) names e in p; the root keeps k in p.
  const ROOT = 1, K = 2, T = 3, E = 7;
  const found = walk(
    [
      [ROOT, "root", "tree", [K]],
      [K, "p", "data"],
      [T, "p", "tree", [E]],
      [E, "p", "data"],
    ],
    [ROOT],
    { p: Movable },
  );
  assert.deepEqual(found.copied, ["2@p"], "only the keeper is copied");
  assert.deepEqual(found.stay, new Set(), "p is repacked: T and e go with it");
});

Deno.test("a chain of dead trees keeps every level in place, one level freed per deleted pack", () => {
  // Dead T1 (pack p1) names dead T2 (pack p2), which names c (pack p3); nothing live but k.
  const ROOT = 1, K = 2, T1 = 10, T2 = 11, C = 12;
  const places: Place[] = [
    [ROOT, "root", "tree", [K]],
    [K, "p1", "data"],
    [T1, "p1", "tree", [T2]],
    [T2, "p2", "tree", [C]],
    [C, "p3", "data"],
  ];
  const all = walk(places, [ROOT], { p1: Movable, p2: Movable, p3: Movable });
  assert.deepEqual(all.copied, ["2@p1"]);
  assert.deepEqual(all.stay, new Set(["p2", "p3"]), "both levels stay this run");
  const again = walk(places, [ROOT], { p1: Movable });
  assert.deepEqual(again.stay, new Set(), "the walk again with them fixed: none stay");
  assert.ok(again.kept.has("p2") && again.kept.has("p3"));
  // The next runs: p1 doomed keeps the chain; once p1 is deleted, p2 goes as it is (nothing
  // live) and still keeps c this run; once p2 is deleted, c goes.
  const doomed = walk(places, [ROOT], { p1: Doomed, p2: Movable, p3: Movable });
  assert.deepEqual(doomed.stay, new Set(["p2", "p3"]), "a doomed pack's dead tree too");
  assert.deepEqual(doomed.copied, [], "nothing is copied for dead trees");
  const p1Gone = walk(places.filter(([, pack]) => pack !== "p1"), [], {
    p2: Movable,
    p3: Movable,
  });
  assert.deepEqual(p1Gone.stay, new Set(["p3"]), "p2 is doomed as it is, c stays in place");
  assert.ok(!p1Gone.kept.has("p2"));
  const p2Gone = walk(places.filter(([, pack]) => pack === "p3"), [], { p3: Movable });
  assert.deepEqual(p2Gone.stay, new Set(), "then c's pack goes");
  assert.deepEqual(p2Gone.kept, new Set());
});

Deno.test("a live tree left only in a doomed pack: what it names is copied out of a movable pack", () => {
  // Root R names tree L, whose only copy is in doomed pack d; L names m (pack q, movable).
  const ROOT = 1, L = 20, M = 21;
  const found = walk(
    [
      [ROOT, "root", "tree", [L]],
      [L, "d", "tree", [M]],
      [M, "q", "data"],
    ],
    [ROOT],
    { d: Doomed, q: Movable },
  );
  assert.deepEqual(found.copied, ["21@q"]);
  assert.deepEqual(found.stay, new Set());
  assert.ok(found.kept.has("d"), "the doomed pack holding a live tree is kept");
});
