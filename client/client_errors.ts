/**
 * What the client throws when the server refuses or cannot be trusted. The CLI maps them to exit
 * codes: a refusal or an integrity error is 1, a connection or TLS problem 3.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";

const REFUSALS: Record<number, string> = {
  [RefusalCode.BadRequest]: "bad request",
  [RefusalCode.AuthFailed]: "authentication failed",
  [RefusalCode.Forbidden]: "not allowed",
  [RefusalCode.TooLarge]: "too large",
  [RefusalCode.QuotaExceeded]: "over quota",
  [RefusalCode.DigestMismatch]: "upload corrupted on the way",
  [RefusalCode.NameConflict]: "name conflict",
  [RefusalCode.Busy]: "server busy",
  [RefusalCode.ServerFailure]: "server failure",
};

/** The server answered with the general error status (1003). */
export class ServerError extends BackupError {}

/** The server refused a version 2 request, saying why. */
export class ServerRefusedError extends ServerError {
  /**
   * Builds the error.
   * @param code the refusal code (`RefusalCode`)
   * @param reason the server's message
   * @param what the request, e.g. `backup of a.txt`; the sign-in's is `key of user N`
   * @param signIn the refusal answers the sign-in (Auth), not a request of a session
   */
  constructor(
    readonly code: number,
    readonly reason: string,
    what: string,
    readonly signIn = false,
  ) {
    const kind = REFUSALS[code] ?? `refused (code ${code})`;
    const detail = reason && reason !== kind ? ` (${reason})` : "";
    super(`the server refused the ${what}: ${kind}${detail}`);
  }
}

/** The bytes received do not have the SHA-256 the server stored: nothing was kept. */
export class IntegrityError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name retrieved
   */
  constructor(readonly fileName: string) {
    super(`integrity error: the bytes of ${fileName} do not match their SHA-256; nothing was kept`);
  }
}

/** The TLS handshake failed: wrong or untrusted certificate, or not a TLS server. */
export class TlsError extends ConnectionLostError {
  /**
   * Builds the error.
   * @param message what went wrong, with the server's address
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A plain connection was answered with TLS bytes: the server speaks TLS on that port. */
export class ServerSpeaksTlsError extends TlsError {
  /** Builds the error. */
  constructor() {
    super("the server answered with TLS: it speaks TLS on this port, this connection did not");
  }
}
