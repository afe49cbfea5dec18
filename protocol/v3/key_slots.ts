/**
 * Key slots as frames carry them (docs/keys_plan.md §1, §4): a slot is opaque bytes whose id is
 * bytes `KEY_SLOT_ID_OFFSET` to `+ KEY_SLOT_ID_BYTES` (after its version byte); a user has at most
 * `MAX_KEY_SLOTS` of at most `MAX_KEY_SLOT_BYTES`. The codec owns these limits (a decoder checks
 * them before it allocates); the stores re-export them. The server and the client use the checks
 * and the id a 1001 echoes; the length readers are the codec's own.
 *
 * @module
 */
import { SHA256_SIZE } from "../v2/constants.ts";
import type { FieldReader } from "../v2/fields.ts";

/** Where a key slot's id starts (after its version byte): the only bytes of a slot a store reads. */
export const KEY_SLOT_ID_OFFSET = 1;
/** Bytes of a key slot's id. */
export const KEY_SLOT_ID_BYTES = 16;
/** Bytes of a key slot, at least: its version byte and its id. */
export const MIN_KEY_SLOT_BYTES: number = KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES;
/** Bytes of a key slot, at most (a passphrase slot is about 200). */
export const MAX_KEY_SLOT_BYTES = 4096;
/** Key slots per user, at most (the client tries them one at a time). */
export const MAX_KEY_SLOTS = 16;

/** The reason a key slot's length breaks the limits, or `undefined` when it keeps them. */
export function keySlotLengthFault(length: number): string | undefined {
  const fits = Number.isSafeInteger(length) && length >= MIN_KEY_SLOT_BYTES &&
    length <= MAX_KEY_SLOT_BYTES;
  if (fits) return undefined;
  return `key slot of ${length} bytes, must be ${MIN_KEY_SLOT_BYTES}..${MAX_KEY_SLOT_BYTES}`;
}

/** Reads a key slot's length u32, refused through `fail` as soon as it is in. */
export function readKeySlotLength(reader: FieldReader, fail: (message: string) => never): number {
  const length = reader.u32();
  const fault = keySlotLengthFault(length);
  if (fault) fail(fault);
  return length;
}

/**
 * Reads a 236's count (0..16) and then each slot's length, every one refused through `fail` as
 * soon as it is in: the body (the slots back to back) is their sum, at most 64 KiB.
 */
export function readKeySlotLengths(
  reader: FieldReader,
  fail: (message: string) => never,
): number[] {
  const count = reader.u32();
  if (count > MAX_KEY_SLOTS) fail(`${count} key slots, at most ${MAX_KEY_SLOTS}`);
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) lengths.push(readKeySlotLength(reader, fail));
  return lengths;
}

/** Views of each slot in `body` (the slots back to back, of these lengths); no copies. */
export function splitKeySlots(body: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  const slots: Uint8Array[] = [];
  let at = 0;
  for (const length of lengths) {
    slots.push(body.subarray(at, at + length));
    at += length;
  }
  return slots;
}

/** Throws a RangeError unless `slots` are at most 16 slots of 17..4096 bytes each. */
export function checkKeySlots(slots: readonly Uint8Array[]): void {
  if (slots.length > MAX_KEY_SLOTS) {
    throw new RangeError(`${slots.length} key slots, at most ${MAX_KEY_SLOTS}`);
  }
  for (const slot of slots) {
    const fault = keySlotLengthFault(slot.length);
    if (fault) throw new RangeError(fault);
  }
}

/** Throws a RangeError unless `slotId` is 16 bytes. */
export function checkKeySlotId(slotId: Uint8Array): void {
  if (slotId.length !== KEY_SLOT_ID_BYTES) {
    throw new RangeError(`key slot id of ${slotId.length} bytes, not ${KEY_SLOT_ID_BYTES}`);
  }
}

/**
 * The 32-byte id a 1001 to a RemoveKey echoes: the slot id, then 16 zero bytes (a 1001 carries
 * an id of 32 bytes whatever it answers).
 *
 * @throws {RangeError} unless `slotId` is 16 bytes.
 */
export function keySlotNotFoundId(slotId: Uint8Array): Uint8Array {
  checkKeySlotId(slotId);
  const id = new Uint8Array(SHA256_SIZE);
  id.set(slotId);
  return id;
}
