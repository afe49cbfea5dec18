/**
 * Named constants of the backup protocol, version 2: ops, statuses, refusal codes and field sizes.
 * Version 2 keeps version 1's request head (user id, version, op) and response head (version,
 * status), so that the version byte of a connection's first request decides which one it speaks.
 *
 * @module
 */

/** The version byte of every version 2 request and response. */
export const PROTOCOL_VERSION_2 = 2;

/** Version 2 request operations (backup, retrieve, delete and list keep version 1's codes). */
export const OpV2 = {
  /** Opens a session: the server answers with a fresh nonce to sign. */
  Hello: 1,
  /** Proves the user id with an Ed25519 signature over the nonce. */
  Auth: 2,
  /** Stores a file with its metadata; the payload and its SHA-256 follow the header. */
  Backup: 100,
  /** Fetches the current or a past version of a file. */
  Retrieve: 200,
  /** Removes a file (it becomes a past version). */
  Delete: 201,
  /** Lists files under a prefix with their metadata, now or as they were at a time. */
  List: 202,
  /** Lists the versions of one name. */
  Versions: 203,
} as const;

/** One of the version 2 operation codes. */
export type OpV2 = typeof OpV2[keyof typeof OpV2];

/** Version 2 response statuses (210, 211, 212, 1001 and 1003 keep version 1's meaning). */
export const StatusV2 = {
  /** Answer to Hello: the nonce follows. */
  Challenge: 220,
  /** Answer to Auth: the session is authenticated; flags follow. */
  Authenticated: 221,
  /** Retrieve succeeded: name, version information, payload. */
  FileRestored: 210,
  /** List or Versions succeeded: entries follow, then an end mark. */
  EntriesSent: 211,
  /** Backup or delete succeeded: name follows. */
  Done: 212,
  /** No such file (or version): name follows. */
  FileNotFound: 1001,
  /** Refused: a refusal code and a message follow. */
  Refused: 1003,
} as const;

/** One of the version 2 statuses. */
export type StatusV2 = typeof StatusV2[keyof typeof StatusV2];

/** Why a version 2 request was refused, carried by a 1003. */
export const RefusalCode = {
  /** Sent only by a server that answered in version 1 (e.g. too many connections). */
  Unspecified: 0,
  /** The request broke the protocol; the connection closes. */
  BadRequest: 1,
  /** The handshake failed: unknown or revoked key, bad signature; the connection closes. */
  AuthFailed: 2,
  /** Not allowed: another user's id, a request before the handshake, append-only. */
  Forbidden: 3,
  /** Over the server's largest file size. */
  TooLarge: 4,
  /** Over the user's quota. */
  QuotaExceeded: 5,
  /** The payload's SHA-256 is not the one the client sent: nothing was stored. */
  DigestMismatch: 6,
  /** The name would be both a file and a folder. */
  NameConflict: 7,
  /** The server cannot take the request now (too many connections, shutting down). */
  Busy: 8,
  /** The server failed (storage); the request may be retried. */
  ServerFailure: 9,
} as const;

/** One of the refusal codes. */
export type RefusalCode = typeof RefusalCode[keyof typeof RefusalCode];

/** Bytes of a server nonce. */
export const NONCE_SIZE = 32;
/** Bytes of an Ed25519 public key. */
export const PUBLIC_KEY_SIZE = 32;
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_SIZE = 64;
/** Bytes of a SHA-256 digest. */
export const SHA256_SIZE = 32;
/** Longest message of a refusal, in bytes. */
export const MAX_REFUSAL_MESSAGE_BYTES = 1024;
/** The mode field's value when no mode is known. */
export const NO_MODE = 0xffff_ffff;
/** Permission bits, set-id bits and the sticky bit: what a mode may carry besides its type. */
export const MAX_MODE = 0o7777;
/** The type bits of a mode (as in `st_mode`). */
export const MODE_TYPE_MASK = 0o170000;
/** Type bits of a regular file (or none: a mode of permission bits alone is a regular file). */
export const MODE_REGULAR_FILE = 0o100000;
/**
 * Type bits of a symbolic link: the payload is the link's target (UTF-8, at most
 * `MAX_LINK_TARGET_BYTES`), stored and restored as a link, never followed.
 */
export const MODE_SYMLINK = 0o120000;
/** Longest symbolic link target, in bytes (Linux's `PATH_MAX`). */
export const MAX_LINK_TARGET_BYTES = 4096;
/** Largest time in milliseconds a field may hold (the range of a JavaScript `Date`). */
export const MAX_TIME_MS = 8.64e15;

/**
 * Bytes of the version information after a name: version id 8, size 8, mtime 8, mode 4, stored 8,
 * ended 8, flags 1, SHA-256 32.
 */
export const VERSION_INFO_SIZE: number = 8 + 8 + 8 + 4 + 8 + 8 + 1 + SHA256_SIZE;

/** Flag bit of version information: this version ended because the file was deleted. */
export const FLAG_DELETED = 1;
/** Flag bit of Authenticated: the account may not delete or replace files. */
export const FLAG_APPEND_ONLY = 1;

/** What an Auth signature covers first: ties the signature to this protocol and step. */
export const AUTH_CONTEXT: Uint8Array = new TextEncoder().encode("backup-protocol-v2 auth\0");
