/**
 * The S3 snapshot store's lists of each user's packs (`snapshot_store.ts`): a blob the blob cache
 * places is answered present only if its pack was listed after the tombstone view was fetched
 * (`snapshot_session.ts`, `#stored`). One LIST of `p/USER/` per view age, for the 64 users used
 * last.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import { packsFolder } from "./keys.ts";

/** Users whose pack lists are kept at most (least recently used go first). */
const MAX_PACK_LISTS = 64;

/**
 * Each user's packs as listed after the tombstone view was last fetched. A blob is answered present
 * only if its pack is in that list: a pack garbage collection deleted is either in a tombstone the
 * view lists, or (its tombstone deleted after the deletion, before the view was fetched) missing
 * from a list made after the view (`snapshot_mark.ts`: a blob index outlives some of its packs).
 */
export class PackLists {
  readonly #objects: ObjectStore;
  readonly #users = new Map<number, { atMs: number; packs: Set<string> }>();

  /** @param objects the bucket below the prefix (packs are `p/USER/NAME` in it) */
  constructor(objects: ObjectStore) {
    this.#objects = objects;
  }

  /** LISTs `p/USER/` unless the last list is younger than the view (`viewAgeMs`). */
  async refresh(userId: number, viewAgeMs: number): Promise<void> {
    const known = this.#users.get(userId);
    this.#users.delete(userId);
    if (known && performance.now() - known.atMs < viewAgeMs) {
      this.#users.set(userId, known);
      return;
    }
    const atMs = performance.now();
    const packs = new Set<string>();
    for await (const { name } of this.#objects.list(packsFolder(userId))) packs.add(name);
    this.#users.set(userId, { atMs, packs });
    for (const [id] of this.#users) {
      if (this.#users.size <= MAX_PACK_LISTS) break;
      this.#users.delete(id);
    }
  }

  /** Adds a pack this server just wrote (and indexed) to the user's list, if it has one. */
  add(userId: number, pack: string): void {
    this.#users.get(userId)?.packs.add(pack);
  }

  /** Whether `pack` (`p/USER/NAME`) was in the user's last list. */
  has(userId: number, pack: string): boolean {
    return this.#users.get(userId)?.packs.has(pack) ?? false;
  }
}
