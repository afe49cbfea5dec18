/**
 * The S3 engine's key slots (`storage/snapshots.ts`, docs/keys_plan.md §1 and §4): one object per
 * slot, `PREFIX k/USER/SLOTID` (32 lowercase hex digits) holding the slot's bytes; a LIST of the
 * user's folder lists them, a PUT adds one, a DELETE removes one. Each slot is charged
 * `keySlotCharge` in the user's usage (`keySlotsUsage`).
 *
 * The rules (at most `MAX_KEY_SLOTS`, never the last, no first slot beside plain snapshots) are
 * checked against a LIST made just before the change: two servers changing one user's slots at
 * the same moment can both pass them (two removals can leave none, two adds can pass the count).
 * Best effort, as the quota across servers is (docs/storage.md); a client changes its slots one
 * at a time (`key passwd` adds before it removes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keySlotKey } from "./key_slots.ts";
 * assert.equal(keySlotKey(7, new Uint8Array(16).fill(0xab)), "k/7/" + "ab".repeat(16));
 * ```
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { DeleteRefusedError } from "../errors.ts";
import {
  EncryptedAlreadyError,
  KEY_SLOT_ID_BYTES,
  keySlotCharge,
  KeySlotConflictError,
  keySlotId,
  KeySlotLimitError,
  LastKeySlotError,
  MAX_KEY_SLOTS,
  NoSuchKeySlotError,
  PlainSnapshotsError,
} from "../snapshots.ts";
import { parseSnapshotKey, snapshotsFolder } from "./snapshot_objects.ts";

/** The folder of a user's key slots, as an object name. */
export function keySlotsFolder(userId: number): string {
  return `k/${userId}/`;
}

/** A key slot's object name (below the store's prefix). */
export function keySlotKey(userId: number, slotId: Uint8Array): string {
  return `${keySlotsFolder(userId)}${toHex(slotId)}`;
}

/** What the key slots work with, given by the snapshot store. */
export interface S3KeySlotsContext {
  /** The bucket below the prefix. */
  objects: ObjectStore;
  /** @throws {QuotaExceededError} if `userId`'s usage and `adding` bytes would pass the quota. */
  checkQuota(userId: number, adding: number): Promise<void>;
  /** Counts bytes just stored (or, negative, removed) in `userId`'s usage estimate. */
  stored(userId: number, bytes: number): void;
  appendOnlyOf(userId: number): boolean;
}

/** Bytes the user's key slots are charged (one LIST of `k/USER/`). */
export async function keySlotsUsage(objects: ObjectStore, userId: number): Promise<number> {
  let bytes = 0;
  for await (const slot of objects.list(keySlotsFolder(userId))) bytes += keySlotCharge(slot.size);
  return bytes;
}

/** See the module comment; the methods are `SnapshotRepository`'s of the same names. */
export class S3KeySlots {
  readonly #ctx: S3KeySlotsContext;
  /** Per user, the change under way: a server makes one user's changes one at a time. */
  readonly #changing = new Map<number, Promise<unknown>>();

  /** @param ctx what it works with */
  constructor(ctx: S3KeySlotsContext) {
    this.#ctx = ctx;
  }

  /**
   * Runs `change` after the user's earlier ones: two removals at once on one server could
   * otherwise both see two slots and leave none.
   */
  async #oneAtATime<T>(userId: number, change: () => Promise<T>): Promise<T> {
    const before = this.#changing.get(userId) ?? Promise.resolve();
    const run = before.catch(() => {}).then(change);
    this.#changing.set(userId, run);
    try {
      return await run;
    } finally {
      if (this.#changing.get(userId) === run) this.#changing.delete(userId);
    }
  }

  /** See `SnapshotRepository.listKeySlots`: a LIST, a GET per slot (in key order: by id). */
  async list(userId: number): Promise<Uint8Array[]> {
    const slots: Uint8Array[] = [];
    for (const { name } of await this.#listed(userId)) {
      const slot = await this.#get(name);
      if (slot) slots.push(slot);
    }
    return slots;
  }

  /**
   * Whether the user has a key slot (an encrypted repository, docs/keys_plan.md §2): one LIST of
   * `k/USER/`, stopped at its first object.
   */
  async any(userId: number): Promise<boolean> {
    for await (const _ of this.#ctx.objects.list(keySlotsFolder(userId))) return true;
    return false;
  }

  /** See `SnapshotRepository.addKeySlot`: checked against a LIST, then one PUT. */
  add(userId: number, slot: Uint8Array, options: { first?: boolean } = {}): Promise<void> {
    return this.#oneAtATime(userId, () => this.#add(userId, slot, options.first ?? false));
  }

  async #add(userId: number, slot: Uint8Array, first: boolean): Promise<void> {
    const slotId = keySlotId(slot);
    const name = keySlotKey(userId, slotId);
    const listed = await this.#listed(userId);
    if (listed.some((object) => object.name === name)) {
      const stored = await this.#get(name);
      if (stored && sameBytes(stored, slot)) return;
      if (stored) throw new KeySlotConflictError(slotId);
    }
    const others = listed.filter((object) => object.name !== name).length;
    if (first && others > 0) throw new EncryptedAlreadyError(userId);
    if (others >= MAX_KEY_SLOTS) {
      throw new KeySlotLimitError(`user ${userId} has ${others} key slots, the most allowed`);
    }
    if (others === 0 && await this.#hasSnapshots(userId)) throw new PlainSnapshotsError(userId);
    const charge = keySlotCharge(slot.length);
    await this.#ctx.checkQuota(userId, charge);
    await this.#ctx.objects.put(name, slot);
    this.#ctx.stored(userId, charge);
  }

  /** See `SnapshotRepository.removeKeySlot`: checked against a LIST, then one DELETE. */
  remove(userId: number, slotId: Uint8Array): Promise<void> {
    return this.#oneAtATime(userId, () => this.#remove(userId, slotId));
  }

  async #remove(userId: number, slotId: Uint8Array): Promise<void> {
    if (this.#ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`key slot ${toHex(slotId)}`);
    if (slotId.length !== KEY_SLOT_ID_BYTES) throw new NoSuchKeySlotError(slotId);
    const name = keySlotKey(userId, slotId);
    const listed = await this.#listed(userId);
    const found = listed.find((object) => object.name === name);
    if (!found) throw new NoSuchKeySlotError(slotId);
    if (listed.length <= 1) throw new LastKeySlotError(slotId);
    await this.#ctx.objects.delete(name);
    this.#ctx.stored(userId, -keySlotCharge(found.size));
  }

  /** The user's slot objects, in key order. */
  async #listed(userId: number): Promise<Array<{ name: string; size: number }>> {
    return await Array.fromAsync(this.#ctx.objects.list(keySlotsFolder(userId)));
  }

  /** A slot's bytes, or `undefined` if it was removed since the LIST. */
  async #get(name: string): Promise<Uint8Array | undefined> {
    try {
      return await this.#ctx.objects.get(name);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  /** Whether the user has a snapshot (the LIST stops at the first). */
  async #hasSnapshots(userId: number): Promise<boolean> {
    const folder = snapshotsFolder(userId);
    for await (const { name } of this.#ctx.objects.list(folder)) {
      if (parseSnapshotKey(name.slice(folder.length))) return true;
    }
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
