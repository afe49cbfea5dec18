/**
 * A failure as the client's command line reports it: its exit code, one line, and what to do in
 * the command line's words. The client library says what went wrong; this adds the flag that
 * fixes it (`--tls`, `--ca`, `--user`, a key instead of `--v1`).
 *
 * @module
 */
import {
  IntegrityError,
  ServerError,
  ServerRefusedError,
  ServerSpeaksTlsError,
  TlsError,
} from "../client/client_errors.ts";
import { KeyFileError } from "../client/keys.ts";
import { RepositoryLockedError } from "../client/repository_unlock.ts";
import { LocalFileError } from "../client/partial_file.ts";
import { UnsafeTargetError } from "../client/safe_paths.ts";
import { NameSealError } from "../client/encryption/names.ts";
import { DecryptionError } from "../client/encryption/seal.ts";
import { ConnectionLostError, isSocketFailure } from "../io/connection_errors.ts";
import { FileNotFoundError, InvalidNameError, ProtocolError } from "../protocol/errors.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { ExitCode, UsageError } from "./flags.ts";

/** Maps an error to its exit code and one line for stderr, with what to do if that is known. */
export function explain(error: unknown, context: HintContext): { code: number; message: string } {
  const hint = hintFor(error, context);
  const message = (error instanceof Error ? error.message : String(error)) +
    (hint ? `: ${hint}` : "");
  if (error instanceof UsageError || error instanceof InvalidNameError) {
    return { code: ExitCode.Usage, message: `${message} (see --help)` };
  }
  if (
    error instanceof KeyFileError || error instanceof UnsafeTargetError ||
    error instanceof LocalFileError || error instanceof RepositoryLockedError
  ) {
    return { code: ExitCode.Usage, message };
  }
  if (
    error instanceof FileNotFoundError || error instanceof ServerError ||
    error instanceof IntegrityError || error instanceof DecryptionError ||
    error instanceof NameSealError
  ) {
    return { code: ExitCode.Failure, message };
  }
  if (
    error instanceof ConnectionLostError || error instanceof ProtocolError ||
    error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.TimedOut ||
    isSocketFailure(error)
  ) {
    return { code: ExitCode.Connection, message: `connection problem: ${message}` };
  }
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
    return { code: ExitCode.Usage, message };
  }
  return { code: ExitCode.Failure, message };
}

/** What the command line knows about the session that failed. */
export interface HintContext {
  /** The session spoke protocol version 1 (`--v1`, or no key). */
  v1: boolean;
  /** `--v1` was given. */
  v1Flag?: boolean;
  /** `--ca` was given. */
  ca: boolean;
  /** The user id acted for. */
  userId?: number;
}

/** TLS failures by the words rustls uses, and what to do about each. */
const TLS_HINTS: Array<[RegExp, (context: HintContext) => string]> = [
  [
    /UnknownIssuer/i,
    (context) =>
      context.ca
        ? "the certificate given with --ca did not sign the server's: ask its operator for the right one"
        : "no CA this machine trusts signed the server's certificate: if it is the server's own " +
          "or your organisation's, pass --ca FILE with that certificate (PEM)",
  ],
  [
    /BadSignature|BadEncoding/i,
    () =>
      "the server's certificate does not match the one given with --ca: ask its operator for it",
  ],
  [
    /NotValidForName|not valid for name/i,
    () => "the certificate does not name the host in --server: connect by a name it carries",
  ],
  [
    /Expired|NotValidYet/i,
    () => "the server's certificate is out of its dates (or this machine's clock is wrong)",
  ],
  [
    /InvalidContentType|corrupt message|peer is incompatible|not a TLS/i,
    () => "the server does not speak TLS on this port: drop --tls and --ca, or use its TLS port",
  ],
];

/**
 * A hint for `error`, or `undefined` if there is nothing to add.
 *
 * @example
 * ```ts
 * import { hintFor } from "./client_failure.ts";
 * import { ServerSpeaksTlsError } from "../client/client_errors.ts";
 * import assert from "node:assert/strict";
 * assert.match(hintFor(new ServerSpeaksTlsError(), { v1: false, ca: false })!, /--tls/);
 * ```
 */
export function hintFor(error: unknown, context: HintContext): string | undefined {
  if (error instanceof ServerSpeaksTlsError) {
    return "add --tls (and --ca FILE if the server's certificate is its own, not from a public CA)";
  }
  if (error instanceof TlsError) {
    return TLS_HINTS.find(([pattern]) => pattern.test(error.message))?.[1](context);
  }
  if (error instanceof ServerRefusedError) {
    if (error.code !== RefusalCode.AuthFailed) return undefined;
    // A session the server closed after its operator removed the key: no id would help.
    if (!error.signIn) {
      return "the server no longer accepts this key (its operator removed it, or its account, " +
        "while this session was open): ask the operator, or use a key the server lists";
    }
    return `is ${context.userId} the id the server's operator registered this key for? ` +
      `if not, pass --user ID`;
  }
  // Version 1's general error carries no reason; on a first request these are the likely ones.
  if (error instanceof ServerError && context.v1) {
    return v1RefusalHint(context.v1Flag);
  }
  return undefined;
}

/** Why a server may answer version 1 with "general error", and what to do; `v1Flag`: `--v1`. */
export function v1RefusalHint(v1Flag?: boolean): string {
  return "a server with accounts refuses protocol v1 (and ids that are accounts): use a key " +
    `(keygen, then the operator adds its line)${v1Flag ? " and drop --v1" : ""}; ` +
    "else the server may be full or over a limit (see its log)";
}
