/**
 * The embedded engine's key slots (`storage/snapshots.ts`, docs/keys_plan.md §1 and §4): rows of
 * schema 7's `key_slots` (`schema_key_slots.ts`), one per slot, charged to the quota by its
 * triggers. Each change is one transaction: the checks (the count, the last slot, the user's
 * snapshots for a first slot) and the change see the same rows, so two connections adding or
 * removing at once cannot pass a rule between them.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { toHex } from "../../common/hex.ts";
import { DeleteRefusedError, QuotaExceededError } from "../errors.ts";
import {
  EncryptedAlreadyError,
  KEY_SLOT_ID_BYTES,
  KeySlotConflictError,
  keySlotId,
  KeySlotLimitError,
  LastKeySlotError,
  MAX_KEY_SLOTS,
  NoSuchKeySlotError,
  PlainSnapshotsError,
} from "../snapshots.ts";
import type { ChangeSize } from "./index_writes.ts";
import type { VersionIndex } from "./version_index.ts";

const SQL = {
  list: "SELECT slot FROM key_slots WHERE user_id = ? ORDER BY slot_id",
  find: "SELECT slot FROM key_slots WHERE user_id = ? AND slot_id = ?",
  count: "SELECT count(*) AS n FROM key_slots WHERE user_id = ?",
  any: "SELECT EXISTS (SELECT 1 FROM key_slots WHERE user_id = ?) AS found",
  hasSnapshots: "SELECT EXISTS (SELECT 1 FROM snapshots WHERE user_id = ?) AS found",
  insert: "INSERT INTO key_slots (user_id, slot_id, slot, added_ms) VALUES (?, ?, ?, ?)",
  remove: "DELETE FROM key_slots WHERE user_id = ? AND slot_id = ?",
} as const;

/** What the key slots work with, given by the snapshot store. */
export interface KeySlotsContext {
  index: VersionIndex;
  /** Makes one synchronous change of the index durable (`IndexWrites.durably`). */
  durably<T>(change: () => T, size: ChangeSize): Promise<T>;
  now(): number;
  /** Bytes a user may store; 0: no quota. */
  quotaOf(userId: number): number;
  /** Whether a user is append-only now: removing a slot is refused. */
  appendOnlyOf(userId: number): boolean;
}

/** See the module comment; the methods are `SnapshotRepository`'s of the same names. */
export class EmbeddedKeySlots {
  readonly #ctx: KeySlotsContext;
  readonly #sql: Record<keyof typeof SQL, StatementSync>;

  /** @param ctx what it works with */
  constructor(ctx: KeySlotsContext) {
    this.#ctx = ctx;
    this.#sql = ctx.index.chunks.prepare(SQL);
  }

  /** See `SnapshotRepository.listKeySlots`. */
  list(userId: number): Promise<Uint8Array[]> {
    const rows = this.#sql.list.all(userId) as Array<{ slot: Uint8Array }>;
    return Promise.resolve(rows.map((row) => row.slot));
  }

  /** Whether the user has a key slot: an encrypted repository (docs/keys_plan.md §2). */
  any(userId: number): boolean {
    return (this.#sql.any.get(userId) as { found: number }).found === 1;
  }

  /** See `SnapshotRepository.addKeySlot`. */
  async add(userId: number, slot: Uint8Array, options: { first?: boolean } = {}): Promise<void> {
    const slotId = keySlotId(slot);
    const sql = this.#sql;
    // A client retrying an add it already made: answered without a write.
    const stored = sql.find.get(userId, slotId) as { slot: Uint8Array } | undefined;
    if (stored && sameBytes(stored.slot, slot)) return;
    await this.#ctx.durably(() =>
      this.#ctx.index.transaction(() => {
        const found = sql.find.get(userId, slotId) as { slot: Uint8Array } | undefined;
        if (found) {
          if (!sameBytes(found.slot, slot)) throw new KeySlotConflictError(slotId);
          return;
        }
        const count = (sql.count.get(userId) as { n: number }).n;
        if (options.first && count > 0) throw new EncryptedAlreadyError(userId);
        if (count >= MAX_KEY_SLOTS) {
          throw new KeySlotLimitError(`user ${userId} has ${count} key slots, the most allowed`);
        }
        if (count === 0 && (sql.hasSnapshots.get(userId) as { found: number }).found) {
          throw new PlainSnapshotsError(userId);
        }
        sql.insert.run(userId, slotId, slot, this.#ctx.now());
        // The triggers charged the slot: read the total they left (undone with the transaction).
        const quota = this.#ctx.quotaOf(userId);
        const after = quota > 0 ? this.#ctx.index.usage(userId) : 0;
        if (after > quota && quota > 0) throw new QuotaExceededError(userId, after, quota);
      }), { changes: 1, bytes: slot.length });
  }

  /** See `SnapshotRepository.removeKeySlot`. */
  async remove(userId: number, slotId: Uint8Array): Promise<void> {
    if (this.#ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`key slot ${toHex(slotId)}`);
    const sql = this.#sql;
    await this.#ctx.durably(() =>
      this.#ctx.index.transaction(() => {
        if (slotId.length !== KEY_SLOT_ID_BYTES || !sql.find.get(userId, slotId)) {
          throw new NoSuchKeySlotError(slotId);
        }
        if ((sql.count.get(userId) as { n: number }).n <= 1) throw new LastKeySlotError(slotId);
        sql.remove.run(userId, slotId);
      }), { changes: 1, bytes: 0 });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
