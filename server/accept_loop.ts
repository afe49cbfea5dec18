/**
 * The accept side of the server: each connection a listener yields is admitted (and served) or
 * refused past a cap, and transient accept failures are logged while the listener retries.
 *
 * @module
 */
import { encodeResponseHeader } from "../protocol/response.ts";
import { Status } from "../protocol/constants.ts";
import { lingeringClose } from "../io/lingering_close.ts";
import { LINGER_MS } from "./connection_context.ts";
import type { Logger } from "./log.ts";
import type { ServerListener } from "./listeners.ts";

/** What the accept loop asks of the server for each connection. */
export interface AcceptHandlers {
  /** The operator log. */
  logger: Logger;
  /**
   * Admits a connection from `host` (taking its slots), or says why it is refused.
   *
   * @returns `undefined` to serve it, else the reason for the log.
   */
  admit(host: string): string | undefined;
  /** Serves an admitted connection (in the background; it owns `conn` from now on). */
  serve(conn: Deno.Conn, host: string): void;
}

/**
 * Accepts from `listener` until it closes or fails for good.
 *
 * @throws whatever stopped the listener (not a transient failure, which it retries).
 */
export async function acceptConnections(
  listener: ServerListener,
  handlers: AcceptHandlers,
): Promise<void> {
  const address = `${listener.addr.hostname}:${listener.addr.port}`;
  const onAcceptError = (error: unknown, retryInMs: number) =>
    handlers.logger.warn("accept failed; retrying", {
      address,
      error: error instanceof Error ? error.message : String(error),
      retryInMs,
    });
  for await (const conn of listener.connections(onAcceptError)) {
    const host = (conn.remoteAddr as Deno.NetAddr).hostname;
    const refusal = handlers.admit(host);
    if (refusal === undefined) handlers.serve(conn, host);
    else refuse(conn, handlers.logger, refusal);
  }
}

/**
 * Past a connection limit: a 1003 so the client knows why, then the connection is closed. A TLS
 * peer that never finishes its handshake would hold the write forever: the socket is closed after
 * `LINGER_MS` whatever happened.
 */
function refuse(conn: Deno.Conn, logger: Logger, why: string): void {
  const addr = conn.remoteAddr as Deno.NetAddr;
  logger.warn(`connection refused: ${why}`, { peer: `${addr.hostname}:${addr.port}` });
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const deadline = setTimeout(close, LINGER_MS);
  conn.write(encodeResponseHeader({ status: Status.GeneralError }))
    .then(() =>
      lingeringClose(conn, { ms: LINGER_MS, maxBytes: 64 * 1024, scratch: new Uint8Array(4096) })
    )
    .catch(close)
    .finally(() => clearTimeout(deadline));
}
