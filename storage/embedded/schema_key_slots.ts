/**
 * Schema 7 of the index: key slots (see `SCHEMA_7`); `schema.ts` applies it after the schemas
 * before it.
 *
 * @module
 */
import { KEY_SLOT_OVERHEAD_BYTES } from "../snapshots.ts";

/**
 * Added by schema 7: each user's key slots (docs/keys_plan.md §1 and §4), opaque records keyed by
 * their 16-byte id (`storage/snapshots.ts` `keySlotId`). A user with a slot has an encrypted
 * repository. Triggers charge each slot (`keySlotCharge`) in `users.version_charge_bytes`, as a
 * snapshot's record is (schema 6). Schema 6's roots convert in place: the table starts empty,
 * every repository plain.
 */
export const SCHEMA_7 = `
CREATE TABLE IF NOT EXISTS key_slots (
  user_id INTEGER NOT NULL,
  slot_id BLOB NOT NULL,
  slot BLOB NOT NULL,
  added_ms INTEGER NOT NULL,
  PRIMARY KEY (user_id, slot_id)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS key_slot_added AFTER INSERT ON key_slots BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET version_charge_bytes = version_charge_bytes + length(NEW.slot)
    + ${KEY_SLOT_OVERHEAD_BYTES} WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS key_slot_removed AFTER DELETE ON key_slots BEGIN
  UPDATE users SET version_charge_bytes = version_charge_bytes - (length(OLD.slot)
    + ${KEY_SLOT_OVERHEAD_BYTES}) WHERE user_id = OLD.user_id;
END;
`;
