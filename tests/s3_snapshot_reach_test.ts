/**
 * The commit's walk for dropped blobs on S3 (`storage/s3/snapshot_reach.ts`) stays bounded against
 * a hostile tree graph (found by a review): past the seen-set's cap a chain of trees that each name
 * the next twice would be walked 2^depth times, blocking the server; the walk now stops at
 * `MAX_REACH_VISITS` with a refusal and lets the event loop turn meanwhile. No store: the
 * references come from one in-memory object.
 */
import assert from "node:assert/strict";
import { toHex } from "../common/hex.ts";
import { LimitExceededError } from "../storage/errors.ts";
import { droppedBelow, MAX_SEEN_TREES } from "../storage/s3/snapshot_reach.ts";
import { compare, encodeTreeRefs, type TreeRefs } from "../storage/s3/snapshot_objects.ts";
import type { ChunkLocation } from "../storage/s3/chunk_list.ts";

let next = 0;
function newId(): Uint8Array {
  const id = new Uint8Array(32);
  new DataView(id.buffer).setUint32(0, ++next);
  return id;
}

function joined(ids: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(ids.length * 32);
  ids.forEach((id, i) => out.set(id, i * 32));
  return out;
}

/** The seen-set filled by leaf trees first, then a chain of `depth` trees naming the next twice. */
function hostileGraph(depth: number) {
  const trees: TreeRefs[] = [];
  const kinds = new Map<string, ChunkLocation>();
  const tree = (refs: Uint8Array[]) => {
    const id = newId();
    kinds.set(toHex(id), {
      id,
      kind: "tree",
      pack: "S.1",
      offset: 0,
      storedLength: 1,
      rawLength: 1,
      compression: "none",
    });
    if (refs.length > 0) trees.push({ id, refs: joined(refs) });
    return id;
  };
  const perMiddle = Math.ceil((MAX_SEEN_TREES + 10) / 64);
  const middles = Array.from(
    { length: 64 },
    () => tree(Array.from({ length: perMiddle }, () => tree([]))),
  );
  const fill = tree(middles);
  let chain = tree([]);
  for (let k = 0; k < depth; k++) chain = tree([chain, chain]);
  const root = tree([chain, fill]);
  trees.sort((a, b) => compare(a.id, b.id));
  const body = encodeTreeRefs(trees);
  const store = {
    async *list(prefix: string) {
      if ("t/7/S.1".startsWith(prefix)) yield { name: "t/7/S.1", size: body.length };
    },
    get: () => Promise.resolve(body),
  };
  return { root, kinds, store };
}

Deno.test("a chain of shared subtrees past the seen-set's cap is refused, and the event loop turns meanwhile", async () => {
  const { root, kinds, store } = hostileGraph(40); // 2^40 visits unbounded
  let turns = 0;
  const ticking = setInterval(() => turns++, 0);
  try {
    await assert.rejects(
      droppedBelow({
        userId: 7,
        store: store as never,
        lookup: (id) => kinds.get(toHex(id)),
        unhealed: new Set([toHex(newId())]),
        refsBudgetBytes: 1 << 30,
        limit: 8192,
      }, root),
      LimitExceededError,
    );
  } finally {
    clearInterval(ticking);
  }
  assert.ok(turns > 0, "other work ran during the walk");
});
