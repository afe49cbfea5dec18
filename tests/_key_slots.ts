/**
 * Key slots for the stores' tests: the store reads only a slot's length and its id (bytes 1..17),
 * so a slot here is a version byte, an id of 16 bytes of `id`, and `size` bytes in all of `fill`.
 *
 * @module
 */
import { KEY_SLOT_ID_BYTES, KEY_SLOT_ID_OFFSET } from "../storage/snapshots.ts";
import { toHex } from "../common/hex.ts";

/** A slot of `size` bytes whose id is 16 bytes of `id`. */
export function fakeSlot(id: number, size = 200, fill = 0x5a): Uint8Array {
  const slot = new Uint8Array(size).fill(fill);
  slot[0] = 1;
  slot.fill(id, KEY_SLOT_ID_OFFSET, KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES);
  return slot;
}

/** The id of `fakeSlot(id)`. */
export function fakeSlotId(id: number): Uint8Array {
  return new Uint8Array(KEY_SLOT_ID_BYTES).fill(id);
}

/** The ids of listed slots, in hex, in the order listed. */
export function slotIds(slots: Uint8Array[]): string[] {
  return slots.map((slot) =>
    toHex(slot.subarray(KEY_SLOT_ID_OFFSET, KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES))
  );
}
