/**
 * Telling a TLS server's bytes from a backup protocol answer: a client that speaks plain TCP to a
 * TLS port gets a TLS record back (an alert, as a rule), which would otherwise be read as a
 * "version 21" answer with a nonsense status.
 *
 * @module
 */

/** The first byte of a TLS record: its content type (RFC 8446, section 5.1). */
const TlsContentType = { Alert: 0x15, Handshake: 0x16 } as const;
/** The first byte of a TLS record's legacy version: 3 for SSL 3.0 and every TLS version. */
const TLS_MAJOR_VERSION = 0x03;

/**
 * True if `bytes` start like a TLS alert or handshake record. No backup protocol answer does: its
 * first byte is the protocol version (1 or 2).
 *
 * @example
 * ```ts
 * import { startsLikeTls } from "./tls_record.ts";
 * import assert from "node:assert/strict";
 * assert.equal(startsLikeTls(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02])), true);
 * assert.equal(startsLikeTls(new Uint8Array([0x01, 0xd4, 0x00])), false);
 * ```
 */
export function startsLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[1] === TLS_MAJOR_VERSION &&
    (bytes[0] === TlsContentType.Alert || bytes[0] === TlsContentType.Handshake);
}
