/**
 * A version 3 session's key slot requests (`SessionV3`, client/session_v3.ts, documents each):
 * list, add and remove the user's key slots (docs/keys_plan.md §1). A slot and a slot id are
 * checked before anything is sent.
 *
 * @module
 */
import { KEY_SLOT_ID_BYTES, OpV3, TAGGED_REQUEST_HEAD_SIZE } from "../protocol/v3/constants.ts";
import { checkKeySlotId, checkKeySlots } from "../protocol/v3/key_slots.ts";
import type { SessionRequesterV3 } from "./session_requester_v3.ts";

/** `SessionV3.listKeySlots`: the user's key slots, in the order of their ids. */
export async function listKeySlots(requests: SessionRequesterV3): Promise<Uint8Array[]> {
  const answer = await requests.call(OpV3.ListKeys, TAGGED_REQUEST_HEAD_SIZE, {
    op: OpV3.ListKeys,
  });
  // Copies: the answer's slots are views of one body, and a caller may keep one of them.
  return (answer as { slots: Uint8Array[] }).slots.map((slot) => slot.slice());
}

/** `SessionV3.addKeySlot`: adds a key slot (`first`: only as the repository's first). */
export async function addKeySlot(
  requests: SessionRequesterV3,
  slot: Uint8Array,
  options: { first?: boolean },
): Promise<void> {
  checkKeySlots([slot]);
  await requests.call(OpV3.AddKey, TAGGED_REQUEST_HEAD_SIZE + 1 + 4 + slot.length, {
    op: OpV3.AddKey,
    first: options.first ?? false,
    slot,
  });
}

/** `SessionV3.removeKeySlot`: removes the key slot of this id. */
export async function removeKeySlot(
  requests: SessionRequesterV3,
  slotId: Uint8Array,
): Promise<void> {
  checkKeySlotId(slotId);
  await requests.call(OpV3.RemoveKey, TAGGED_REQUEST_HEAD_SIZE + KEY_SLOT_ID_BYTES, {
    op: OpV3.RemoveKey,
    slotId,
  });
}
