/**
 * The flushes of an S3 snapshot session (docs/snapshots_plan.md §7), run one at a time behind the
 * session's puts: each time one of its packs is stored, what can be indexed is, while the next
 * blobs are checked and written. Only one flush runs at a time, so two never index the same blob;
 * the first failure stops the ones queued after it and is kept for the session's next put and its
 * commit (nothing is committed), as the embedded session's indexing behind does.
 *
 * @module
 */
import { type ChunkTable, ChunkTableBuilder, sortedById } from "./chunk_list.ts";
import { compare, encodeTreeRefs, type TreeRefs } from "./snapshot_objects.ts";
import type { PendingBlob } from "./snapshot_pending.ts";

/** One flush: indexes what can be (the session's `#flush`). */
export type Flush = () => Promise<void>;

/** See the module comment. */
export class FlushChain {
  readonly #flush: Flush;
  /** The flushes queued; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

  /** A chain whose every step runs `flush`. */
  constructor(flush: Flush) {
    this.#flush = flush;
  }

  /**
   * Queues a flush after those queued, run once `before` resolves (if given); none runs once one
   * failed. Resolves once it ran (or was passed over), never rejects.
   */
  behind(before?: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      if (this.#failure) return;
      try {
        await before?.();
        await this.#flush();
      } catch (error) {
        this.#failure ??= { error };
      }
    });
    return this.#tail;
  }

  /**
   * Waits for the flushes queued so far.
   *
   * @throws the first failure of a flush, if any.
   */
  async done(): Promise<void> {
    await this.#tail;
    this.throwIfFailed();
  }

  /**
   * Throws the first failure of a flush, if any (the session's next put).
   *
   * @throws the failure.
   */
  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /** Waits for the flushes queued, then forgets a failure (the close flushes what it still can). */
  async settle(): Promise<void> {
    await this.#tail;
    this.#failure = undefined;
  }
}

/**
 * Resolves a macrotask later: every callback of a promise already settled has run by then (the
 * pack writer records a pack as stored in such a callback, after the commit of its object).
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * What one flush PUTs for the blobs `ready` (placed, indexable now): their index table sorted by
 * id, the references of their trees (`t/`; undefined without trees), and their stored bytes.
 */
export function flushObjects(
  ready: Iterable<PendingBlob>,
): { table: ChunkTable; refs: Uint8Array | undefined; bytes: number } {
  const table = new ChunkTableBuilder();
  const trees: TreeRefs[] = [];
  let bytes = 0;
  for (const blob of ready) {
    table.add({
      id: blob.id,
      pack: blob.pack!,
      offset: blob.offset!,
      storedLength: blob.storedLength,
      rawLength: blob.rawLength,
      compression: blob.compression,
      kind: blob.kind,
    });
    if (blob.kind === "tree") trees.push({ id: blob.id, refs: blob.refs! });
    bytes += blob.storedLength;
  }
  trees.sort((a, b) => compare(a.id, b.id));
  const refs = trees.length > 0 ? encodeTreeRefs(trees) : undefined;
  return { table: sortedById(table.table()), refs, bytes };
}
