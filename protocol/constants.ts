/**
 * Named constants of the backup protocol, version 1: ops, statuses, field sizes and limits.
 *
 * @module
 */

/** The protocol version this implementation speaks and sends in every response. */
export const PROTOCOL_VERSION = 1;

/** The port servers listen on and clients connect to unless told otherwise (the original's). */
export const DEFAULT_PORT = 1234;
/** The address servers listen on and clients connect to unless told otherwise: local only. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/** Request operations. */
export const Op = {
  /** Store a file (request carries size and payload). */
  Backup: 100,
  /** Fetch a stored file. */
  Retrieve: 200,
  /** Remove a stored file. */
  Delete: 201,
  /** List the user's file names. */
  List: 202,
} as const;

/** One of the request operation codes. */
export type Op = typeof Op[keyof typeof Op];

/** Response status codes. */
export const Status = {
  /** Retrieve succeeded: name, size and payload follow. */
  FileRestored: 210,
  /** List succeeded: list name, size and the list follow. */
  ListSent: 211,
  /** Backup or delete succeeded: name follows. */
  Done: 212,
  /** The file does not exist: name follows. */
  FileNotFound: 1001,
  /** The user has no files: nothing follows. */
  NoFiles: 1002,
  /** General error: nothing follows. */
  GeneralError: 1003,
} as const;

/** One of the response status codes. */
export type Status = typeof Status[keyof typeof Status];

/** Byte sizes of the fixed fields. */
export const FieldSize = {
  userId: 4,
  version: 1,
  op: 1,
  nameLength: 2,
  payloadSize: 4,
  status: 2,
} as const;

/** Bytes of a request before the name length: user id, version, op. */
export const REQUEST_HEAD_SIZE: number = FieldSize.userId + FieldSize.version + FieldSize.op;

/** Bytes of a response before any optional field: version, status. */
export const RESPONSE_HEAD_SIZE: number = FieldSize.version + FieldSize.status;

/** Longest file name, in bytes. */
export const MAX_NAME_BYTES = 1024;

/** Longest component of a file name, in bytes. */
export const MAX_COMPONENT_BYTES = 255;

/** Largest payload the 4-byte size field can describe. */
export const MAX_PAYLOAD_SIZE = 0xffff_ffff;

/** Largest request header: head, name length, longest name, size. */
export const MAX_REQUEST_HEADER_SIZE: number = REQUEST_HEAD_SIZE + FieldSize.nameLength +
  MAX_NAME_BYTES + FieldSize.payloadSize;

/** Largest response header: head, name length, longest name, size. */
export const MAX_RESPONSE_HEADER_SIZE: number = RESPONSE_HEAD_SIZE + FieldSize.nameLength +
  MAX_NAME_BYTES + FieldSize.payloadSize;

/** Separator that ends each name in a list payload. */
export const LIST_SEPARATOR = 0x0a;

/** Length of the random name the server gives a list. */
export const LIST_NAME_LENGTH = 32;

/** Whether a byte value is one of the known ops. */
export function isOp(value: number): value is Op {
  return value === Op.Backup || value === Op.Retrieve || value === Op.Delete ||
    value === Op.List;
}

/** Whether a number is one of the known statuses. */
export function isStatus(value: number): value is Status {
  return Object.values(Status).includes(value as Status);
}
