/** How long, and how much, `lingeringClose` reads and drops before closing. */
export interface LingerOptions {
  /** Milliseconds to wait for the client to finish sending. */
  ms: number;
  /** Bytes to drop at most. */
  maxBytes: number;
  /** A buffer to read into (its contents are thrown away). */
  scratch: Uint8Array;
}

/**
 * Ends our side of a connection after a final answer, reads and drops what the client still sends
 * (briefly), then closes it. Closing a socket with unread input makes the kernel send a reset, which can
 * destroy the answer before the client reads it: a client still sending a refused upload would never
 * see its 1003. Never throws.
 */
export async function lingeringClose(conn: Deno.Conn, options: LingerOptions): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), options.ms);
  try {
    await conn.closeWrite();
    let dropped = 0;
    while (dropped < options.maxBytes) {
      const count = await conn.read(options.scratch);
      if (count === null) break;
      dropped += count;
    }
  } catch {
    // the client reset, or the timer closed the socket: either way it is over
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
