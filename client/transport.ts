/**
 * Opening the client's connection: plain TCP, or TLS verified against the system's roots and any
 * extra certificate given.
 *
 * @module
 */
import { TlsError } from "./client_errors.ts";

/** Where and how to connect. */
export interface TransportOptions {
  /** Server host. @default "127.0.0.1" */
  hostname?: string;
  /** Server port. @default 1234 */
  port?: number;
  /** Speak TLS; the certificate must be trusted and name `hostname`. */
  tls?: boolean;
  /** PEM certificates (a CA or the server's own) to trust besides the system's roots. */
  caCerts?: string[];
}

/**
 * Connects and, for TLS, completes the handshake.
 *
 * @throws {TlsError} if the TLS handshake fails; network errors if the server cannot be reached.
 */
export async function openTransport(
  options: TransportOptions & { hostname: string; port: number },
): Promise<Deno.Conn> {
  const { hostname, port } = options;
  if (!options.tls) {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return conn;
  }
  // TLS over a socket of our own, so that Nagle's algorithm can be turned off (a TlsConn has no
  // setNoDelay): a small request must not wait for the acknowledgement of the one before.
  const tcp = await Deno.connect({ hostname, port });
  tcp.setNoDelay(true);
  const conn = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts });
  try {
    await conn.handshake();
  } catch (error) {
    conn.close();
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new TlsError(`TLS with ${hostname}:${port} failed: ${reason}`, { cause: error });
  }
  return conn;
}
