/**
 * The ciphertext side of a TLS connection over `node:tls` (see `node_tls.ts`): the accepted TCP
 * socket as the `Duplex` that `node:tls` reads and writes, a gate that stops reading it while the
 * connection holds too much the server has not taken, and the `node:` errors it raises mapped to
 * the `Deno.errors` classes the rest of the server tells apart.
 *
 * @module
 */
import { Duplex } from "node:stream";

/** The most ciphertext read from the TCP socket at once, at first and whenever little comes. */
const TCP_READ_SIZE = 64 * 1024;
/**
 * The most read at once after a read filled the smaller buffer (a client streaming an upload):
 * fewer, larger reads cut the server's CPU per byte. A read that brings under a quarter of the
 * small size goes back to it; a connection left idle right after a larger read keeps this one
 * until its next read (a few hundred KiB beside the 64 MiB a connection may hold in requests).
 */
const TCP_READ_SIZE_STREAMING = 256 * 1024;

/** The content type of a TLS record that carries a handshake message (a ClientHello first). */
const TLS_HANDSHAKE_RECORD = 0x16;
/**
 * A fatal TLS alert (decode_error) in a TLS 1.2 record: the answer to a client that did not start
 * with TLS. `node:tls` fails such a handshake without a word; `Deno.listenTls` answered with an
 * alert, and the client tells a TLS answer apart to say "add --tls".
 */
const NOT_TLS_ALERT = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]);

/**
 * Whether the TCP socket may be read: held closed while the connection holds its high-water mark
 * of bytes that the server has not taken. `node:tls` pulls its stream whenever it likes (pausing
 * the TLS socket does not stop it), so back-pressure has to stop the reads of ciphertext
 * themselves.
 *
 * @example
 * ```ts
 * import { ReadGate } from "./tls_ciphertext_stream.ts";
 * import assert from "node:assert/strict";
 * const gate = new ReadGate();
 * const reads: string[] = [];
 * gate.pass(() => reads.push("first"));
 * gate.hold();
 * gate.pass(() => reads.push("second"));
 * assert.deepEqual(reads, ["first"]);
 * gate.open();
 * assert.deepEqual(reads, ["first", "second"]);
 * ```
 */
export class ReadGate {
  #held = false;
  #pending: (() => void) | undefined;

  /** Runs `read` now, or once the gate opens. */
  pass(read: () => void): void {
    if (this.#held) this.#pending = read;
    else read();
  }

  /** Stops reading after the read under way. */
  hold(): void {
    this.#held = true;
  }

  /** Reads again (the one read that waited first). */
  open(): void {
    if (!this.#held) return;
    this.#held = false;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.();
  }
}

/**
 * The TCP socket as the `Duplex` of ciphertext `node:tls` reads and writes, read only while `gate`
 * lets it. A first record that is not a TLS handshake is answered with a TLS alert. Destroying it
 * closes the socket.
 *
 * @example
 * ```ts ignore
 * const socket = new tls.TLSSocket(tcpDuplex(tcp, gate), { isServer: true, secureContext });
 * ```
 */
export function tcpDuplex(tcp: Deno.TcpConn, gate: ReadGate): Duplex {
  let scratch = new Uint8Array(TCP_READ_SIZE);
  let first = true;
  return new Duplex({
    read() {
      gate.pass(() =>
        tcp.read(scratch).then(async (count) => {
          if (first && count !== null && count > 0) {
            first = false;
            if (scratch[0] !== TLS_HANDSHAKE_RECORD) {
              await writeAll(tcp, NOT_TLS_ALERT).catch(() => {}); // the handshake fails anyway
            }
          }
          this.push(count === null ? null : scratch.slice(0, count));
          scratch = nextReadBuffer(scratch, count ?? 0);
        }, (error) => this.destroy(denoError(error)))
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(tcp, chunk).then(() => done(), (error) => done(denoError(error)));
    },
    final(done) {
      tcp.closeWrite().then(() => done(), (error) => done(denoError(error)));
    },
    destroy(error, done) {
      try {
        tcp.close();
      } catch {
        // already closed
      }
      done(error);
    },
  });
}

/**
 * The buffer of the next read after one that brought `count` bytes into `buffer`.
 *
 * @example
 * ```ts
 * import { nextReadBuffer } from "./tls_ciphertext_stream.ts";
 * import assert from "node:assert/strict";
 * const small = new Uint8Array(64 * 1024);
 * const large = nextReadBuffer(small, small.length);
 * assert.equal(large.length, 256 * 1024);
 * assert.equal(nextReadBuffer(large, 100 * 1024), large);
 * assert.equal(nextReadBuffer(large, 1000).length, 64 * 1024);
 * assert.equal(nextReadBuffer(small, 1000), small);
 * ```
 */
export function nextReadBuffer(
  buffer: Uint8Array<ArrayBuffer>,
  count: number,
): Uint8Array<ArrayBuffer> {
  if (buffer.length < TCP_READ_SIZE_STREAMING && count === buffer.length) {
    return new Uint8Array(TCP_READ_SIZE_STREAMING);
  }
  if (buffer.length > TCP_READ_SIZE && count < TCP_READ_SIZE / 4) {
    return new Uint8Array(TCP_READ_SIZE);
  }
  return buffer;
}

async function writeAll(tcp: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.length;) sent += await tcp.write(bytes.subarray(sent));
}

/**
 * A `node:` error as the `Deno.errors` class the rest of the code tells apart; any other error
 * as it is.
 *
 * @example
 * ```ts
 * import { denoError } from "./tls_ciphertext_stream.ts";
 * import assert from "node:assert/strict";
 * const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
 * assert.ok(denoError(reset) instanceof Deno.errors.ConnectionReset);
 * ```
 */
export function denoError(error: Error & { code?: string }): Error {
  const classes: Record<string, new (message: string) => Error> = {
    ECONNRESET: Deno.errors.ConnectionReset,
    EPIPE: Deno.errors.BrokenPipe,
    ECONNABORTED: Deno.errors.ConnectionAborted,
    EADDRINUSE: Deno.errors.AddrInUse,
    ENOTCONN: Deno.errors.NotConnected,
    ECANCELED: Deno.errors.BadResource, // a write to a socket closed meanwhile
  };
  const Class = error.code ? classes[error.code] : undefined;
  if (!Class) return error;
  const mapped = new Class(error.message);
  mapped.cause = error;
  return mapped;
}
