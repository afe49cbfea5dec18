/**
 * Which unhealed dropped blobs a snapshot reaches (DropBlobs, `snapshot_drops.ts`): a commit stops
 * at an indexed tree because such a tree is complete, except below it a blob dropped since, which
 * it answers missing so that the client sends it again (as the embedded store does). Walked only
 * while the user has a dropped blob no other place of is stored: from the root through every
 * indexed tree, whose references are in the `t/USER/SESSION.N` objects of the session that
 * indexed it (the session is its pack's name up to the first dot: `p/USER/SESSION.N`), read one
 * session at a time.
 *
 * Memory: the references of the sessions read, up to `refsBudgetBytes` (past it, those read are
 * forgotten and read again if a later tree needs them), and a seen-set of trees capped at
 * `MAX_SEEN_TREES` (past it, a tree reached twice is walked twice: the same answer, slower).
 * Work: at most `MAX_REACH_VISITS` trees visited and `MAX_REACH_READ_BYTES` of references read
 * per walk (a tree graph of shared subtrees walked twice at every level, or trees alternating
 * between two large sessions, would otherwise take without bound), past which the commit is
 * refused; the walk gives the event loop a turn every `VISITS_PER_TURN` trees, so that other
 * connections are served meanwhile.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { LimitExceededError } from "../errors.ts";
import { SNAPSHOT_ID_BYTES as ID_BYTES } from "../snapshots.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import { decodeTreeRefs, treeRefsFolder } from "./snapshot_objects.ts";

/** Trees remembered as walked at most (32 MiB or so of hex keys). */
export const MAX_SEEN_TREES = 256 * 1024;
/** Trees one walk visits at most. */
export const MAX_REACH_VISITS = 4 * MAX_SEEN_TREES;
/** Bytes of references one walk reads at most. */
export const MAX_REACH_READ_BYTES = 1024 * 1024 * 1024;
/** Trees visited between two turns of the event loop. */
const VISITS_PER_TURN = 4096;

/** What the walk works with, given by the session. */
export interface ReachContext {
  userId: number;
  /** The bucket below the store's prefix. */
  store: ObjectStore;
  /** Where the user's blob is indexed (dropped places never), if this server knows it. */
  lookup(id: Uint8Array): ChunkLocation | undefined;
  /** Hex ids of the dropped blobs with no other place stored. */
  unhealed: ReadonlySet<string>;
  /** Bytes of references held at once. */
  refsBudgetBytes: number;
  /** Ids answered at most. */
  limit: number;
}

/**
 * The unhealed dropped blobs `root` reaches (itself included), `ctx.limit` at most. A tree whose
 * references cannot be found (its session's objects collected meanwhile) is passed over: what it
 * names was stored when it was indexed.
 *
 * @throws {S3Error} if the store failed a request, {CorruptStoreError} if a references object
 *   does not decode, {LimitExceededError} past `MAX_REACH_VISITS` or `MAX_REACH_READ_BYTES`.
 */
export async function droppedBelow(ctx: ReachContext, root: Uint8Array): Promise<Uint8Array[]> {
  const found = new Map<string, Uint8Array>();
  const seen = new Set<string>();
  const refs = new SessionRefs(ctx);
  const stack: Uint8Array[] = [root];
  const reach = (id: Uint8Array): boolean => {
    const key = toHex(id);
    if (ctx.unhealed.has(key)) {
      found.set(key, id.slice());
      return false;
    }
    if (seen.has(key)) return false;
    if (seen.size < MAX_SEEN_TREES) seen.add(key);
    return true;
  };
  if (!reach(root)) return [...found.values()];
  let visits = 0;
  while (stack.length > 0 && found.size < ctx.limit) {
    if (++visits > MAX_REACH_VISITS) {
      throw new LimitExceededError(
        `the snapshot's trees, walked for blobs dropped by a repair, take over ` +
          `${MAX_REACH_VISITS} visits: the commit is refused`,
      );
    }
    if (visits % VISITS_PER_TURN === 0) await new Promise((turn) => setTimeout(turn, 0));
    const tree = stack.pop()!;
    const location = ctx.lookup(tree);
    if (location?.kind !== "tree") continue;
    const names = await refs.of(tree, location.pack);
    for (let at = 0; names && at < names.length && found.size < ctx.limit; at += ID_BYTES) {
      const id = names.subarray(at, at + ID_BYTES);
      if (ctx.lookup(id)?.kind === "tree" || ctx.unhealed.has(toHex(id))) {
        if (reach(id)) stack.push(id);
      }
    }
  }
  return [...found.values()];
}

/** The references of indexed trees, read a session's objects at a time, within a budget. */
class SessionRefs {
  readonly #ctx: ReachContext;
  readonly #trees = new Map<string, Uint8Array>();
  readonly #sessions = new Set<string>();
  #bytes = 0;
  #readBytes = 0;

  constructor(ctx: ReachContext) {
    this.#ctx = ctx;
  }

  /** The ids `tree` names, back to back; undefined if its session's objects lack it. */
  async of(tree: Uint8Array, pack: string): Promise<Uint8Array | undefined> {
    const key = toHex(tree);
    const known = this.#trees.get(key);
    if (known) return known;
    const session = pack.slice(0, pack.indexOf("."));
    if (this.#sessions.has(session)) return undefined;
    await this.#read(session);
    return this.#trees.get(key);
  }

  async #read(session: string): Promise<void> {
    const { store, userId, refsBudgetBytes } = this.#ctx;
    const bodies: Uint8Array[] = [];
    let bytes = 0;
    for await (const { name } of store.list(`${treeRefsFolder(userId)}${session}.`)) {
      try {
        const body = await store.get(name);
        bodies.push(body);
        bytes += body.length;
        this.#readBytes += body.length;
        if (this.#readBytes > MAX_REACH_READ_BYTES) {
          throw new LimitExceededError(
            `the snapshot's trees, walked for blobs dropped by a repair, read over ` +
              `${MAX_REACH_READ_BYTES} bytes of references: the commit is refused`,
          );
        }
      } catch (error) {
        if (!(error instanceof ObjectNotFoundError)) throw error;
      }
    }
    if (this.#bytes + bytes > refsBudgetBytes) {
      // Over the budget: what was read goes (read again if a later tree needs it).
      this.#trees.clear();
      this.#sessions.clear();
      this.#bytes = 0;
    }
    this.#bytes += bytes;
    this.#sessions.add(session);
    for (const body of bodies) {
      for (const { id, refs } of decodeTreeRefs(body)) this.#trees.set(toHex(id), refs);
    }
  }
}
