/**
 * The pure codec of the backup protocol, version 3: blobs addressed by their SHA-256, snapshots
 * committed at once, and many requests in flight on one connection, each answered in order and
 * tagged. No I/O happens here. The handshake and the refusal codes are version 2's.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./handshake.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./frames.ts";
export * from "./in_flight.ts";
export type { BlobHead } from "./blob_head.ts";
export { checkKeySlotId, checkKeySlots, keySlotNotFoundId } from "./key_slots.ts";
export { RefusalCode } from "../v2/constants.ts";
export { ProtocolError } from "../errors.ts";
export { BackupError } from "../../common/backup_error.ts";
export * from "./tree.ts";
export * from "./snapshot.ts";
