/**
 * The S3 snapshot store's lists of each user's packs (`snapshot_store.ts`): a blob the blob cache
 * places is answered present only if its pack was listed after the tombstone view it is checked
 * against was fetched (`snapshot_session.ts`, `#stored`). One LIST of `p/USER/` per view refresh,
 * for the 64 users used last.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import { packsFolder } from "./keys.ts";

/** Users whose pack lists are kept at most (least recently used go first). */
const MAX_PACK_LISTS = 64;
/** LISTs one refresh makes at most, each after a view refresh installed during the last. */
const MAX_LISTS = 2;

/** The tombstone view as a pack list sees it: a number each installed refresh increments. */
export interface ViewGeneration {
  readonly generation: number;
}

/**
 * Each user's packs as listed while the tombstone view was the one installed now. A blob is
 * answered present only if its pack is in that list: a pack garbage collection deleted is either in
 * a tombstone the view lists, or (its tombstone deleted after the deletion, before the view was
 * fetched) missing from a list begun after the view was installed (`snapshot_mark.ts`: a blob
 * index outlives some of its packs). A list begun under an older view may hold such a pack: it
 * answers no pack present.
 */
export class PackLists {
  readonly #objects: ObjectStore;
  readonly #view: ViewGeneration;
  readonly #users = new Map<number, { generation: number; packs: Set<string> }>();

  /**
   * @param objects the bucket below the prefix (packs are `p/USER/NAME` in it)
   * @param view the tombstone view (`DoomView`) the lists are made after
   */
  constructor(objects: ObjectStore, view: ViewGeneration) {
    this.#objects = objects;
    this.#view = view;
  }

  /**
   * LISTs `p/USER/` unless the user's last list was begun under the view installed now, and again
   * (once) if a view refresh was installed while it listed. @throws what the LIST threw.
   */
  async refresh(userId: number): Promise<void> {
    for (let lists = 0; lists < MAX_LISTS; lists++) {
      const known = this.#users.get(userId);
      if (known) this.#use(userId, known);
      if (known?.generation === this.#view.generation) return;
      const generation = this.#view.generation;
      const packs = new Set<string>();
      for await (const { name } of this.#objects.list(packsFolder(userId))) packs.add(name);
      // A list of another call, begun under a newer view, stays.
      if ((this.#users.get(userId)?.generation ?? -1) <= generation) {
        this.#use(userId, { generation, packs });
      }
    }
  }

  /** Adds a pack this server just wrote (and indexed) to the user's list, if it has one. */
  add(userId: number, pack: string): void {
    this.#users.get(userId)?.packs.add(pack);
  }

  /** Whether `pack` (`p/USER/NAME`) was in the user's last list, begun under the view installed now. */
  has(userId: number, pack: string): boolean {
    const known = this.#users.get(userId);
    return known?.generation === this.#view.generation && known.packs.has(pack);
  }

  /** Holds `list` as the user's, the most recently used; drops the least recently used past the bound. */
  #use(userId: number, list: { generation: number; packs: Set<string> }): void {
    this.#users.delete(userId);
    this.#users.set(userId, list);
    for (const [id] of this.#users) {
      if (this.#users.size <= MAX_PACK_LISTS) break;
      this.#users.delete(id);
    }
  }
}
