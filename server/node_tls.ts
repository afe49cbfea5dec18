/**
 * A TLS listener whose sockets have Nagle's algorithm off, as the plain listener's have, and whose
 * sockets close when told to, handshake or not.
 *
 * `Deno.listenTls` gives no way to set `TCP_NODELAY` on an accepted socket, and Deno's TLS stream
 * sends each TLS record (16 KiB of plaintext at most) with a `send` of its own: an answer over
 * 16 KiB leaves as two sends, and the second waits for the client's delayed ACK of the first
 * (docs/performance.md, eighth round). So does the first answer after a handshake, behind the session tickets.
 * Nor can a `Deno.TlsConn` whose handshake is pending be closed: its handshake task keeps the TCP
 * socket until the peer sends or leaves, so stalled handshakes pile up descriptors.
 *
 * Here `Deno.listen` accepts the TCP socket (an accept that fails, EMFILE and the like, is thrown
 * by `accept` for the caller to wait out: a `node:net` server in Deno 2.9.6 stops accepting for
 * good after EMFILE, silently), Nagle is turned off, and `node:tls` speaks TLS over it. Closing
 * the connection closes the TCP socket at once. Each connection is wrapped as a `Deno.Conn`, so
 * that the rest of the server does not know the difference. The TCP side, ciphertext, is in
 * `tls_ciphertext_stream.ts`.
 *
 * @module
 */
import tls from "node:tls";
import { Duplex } from "node:stream";
import { denoError, ReadGate, tcpDuplex } from "./tls_ciphertext_stream.ts";

/** Where to listen and with which certificate. */
export interface NodeTlsListenOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** Received bytes held per connection before the TCP socket is no longer read (back-pressure). */
const READ_HIGH_WATER = 1024 * 1024;

/**
 * Listens for TLS connections on `options.hostname:port`.
 *
 * @throws {Deno.errors.AddrInUse} if the address is taken; TLS errors for a bad certificate or key.
 * @example
 * ```ts ignore
 * const listener = listenNodeTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * for await (const conn of listener) serve(conn);
 * ```
 */
export function listenNodeTls(options: NodeTlsListenOptions): NodeTlsListener {
  const context = tls.createSecureContext({ cert: options.cert, key: options.key });
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  warmUpTls(context);
  return new NodeTlsListener(listener, context);
}

let warm = false;

/**
 * Pays the TLS stack's one-time costs when the server starts, not in the first client's handshake:
 * the first TLS socket of a process loads `node:tls`'s internals and starts the crypto library
 * under rustls, which the first client used to wait through (docs/performance.md, "The first
 * backup over TLS"). A socket over a stream that never carries a byte is made and dropped.
 */
function warmUpTls(context: tls.SecureContext): void {
  if (warm) return;
  warm = true;
  const idle = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() });
  new tls.TLSSocket(idle, { isServer: true, secureContext: context }).destroy();
}

/** A `Deno.Listener` of `NodeTlsConn`s. */
export class NodeTlsListener implements Deno.Listener<Deno.TlsConn, Deno.NetAddr> {
  readonly #listener: Deno.TcpListener;
  #context: tls.SecureContext;

  /** Use `listenNodeTls`. */
  constructor(listener: Deno.TcpListener, context: tls.SecureContext) {
    this.#listener = listener;
    this.#context = context;
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /**
   * Takes a new certificate and key for the connections accepted from now on; those already
   * accepted keep theirs. The port stays open throughout.
   *
   * @throws TLS errors for a bad certificate or key (the old ones stay).
   */
  setCertificate(pem: { cert: string; key: string }): void {
    this.#context = tls.createSecureContext({ cert: pem.cert, key: pem.key });
  }

  /**
   * The next connection; its handshake starts at once.
   *
   * @throws what `Deno.Listener.accept` throws: `BadResource` once closed, EMFILE and the like.
   */
  async accept(): Promise<Deno.TlsConn> {
    const tcp = await this.#listener.accept();
    return new NodeTlsConn(tcp, this.#context) as unknown as Deno.TlsConn;
  }

  /** Connections until `close`. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.TlsConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
    }
  }

  /** Stops listening; connections accepted go on. */
  close(): void {
    this.#listener.close();
  }

  /** See `close`. */
  [Symbol.dispose](): void {
    try {
      this.close();
    } catch {
      // already closed
    }
  }

  /** Keeps the process alive while listening. */
  ref(): void {
    this.#listener.ref();
  }

  /** Lets the process end while listening. */
  unref(): void {
    this.#listener.unref();
  }
}

/**
 * A server-side TLS connection over a `node:net` socket with Nagle off, with the methods of a
 * `Deno.TlsConn` the server uses. The handshake starts at once; `handshake()` waits for it.
 */
export class NodeTlsConn {
  readonly #socket: tls.TLSSocket;
  readonly #tcp: Deno.TcpConn;
  readonly #gate = new ReadGate();
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #secure: Promise<void>;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;

  /** @param tcp an accepted TCP socket; this object owns and closes it */
  constructor(tcp: Deno.TcpConn, context: tls.SecureContext) {
    this.#tcp = tcp;
    try {
      tcp.setNoDelay(true);
    } catch {
      // the peer already reset it: the first read says so
    }
    this.localAddr = tcp.localAddr;
    this.remoteAddr = tcp.remoteAddr;
    const socket = new tls.TLSSocket(tcpDuplex(tcp, this.#gate), {
      isServer: true,
      secureContext: context,
    });
    this.#socket = socket;
    const secure = Promise.withResolvers<void>();
    this.#secure = secure.promise;
    this.#secure.catch(() => {}); // a connection closed before anyone asked for the handshake
    socket.once("secure", () => secure.resolve());
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= READ_HIGH_WATER) this.#gate.hold();
      this.#wakeReader();
    });
    const ended = () => {
      this.#ended = true;
      secure.reject(
        new Deno.errors.UnexpectedEof("the connection closed during the TLS handshake"),
      );
      this.#wakeReader();
    };
    // Over a stream that is not a `net.Socket`, the peer's FIN during the handshake ends the
    // socket without closing it: the handshake has failed.
    socket.on("end", ended);
    socket.on("error", (error: Error) => {
      this.#error ??= denoError(error);
      secure.reject(this.#error);
      this.#wakeReader();
    });
    socket.on("close", ended);
  }

  /** Resolves once the TLS handshake is complete. @throws what it failed with. */
  async handshake(): Promise<Deno.TlsHandshakeInfo> {
    await this.#secure;
    return { alpnProtocol: null };
  }

  /** Reads up to `buffer.length` bytes; `null` once the client has closed. */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let count = 0;
    while (count < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const taken = Math.min(chunk.length, buffer.length - count);
      buffer.set(taken === chunk.length ? chunk : chunk.subarray(0, taken), count);
      count += taken;
      if (taken === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(taken);
    }
    this.#queued -= count;
    if (this.#queued < READ_HIGH_WATER) this.#gate.open();
    return count;
  }

  /**
   * Writes all of `bytes`; resolves once they are handed to the socket (the caller may then reuse
   * its buffer).
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("the connection is closed"));
    }
    if (this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("the peer closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (error) reject(this.#error ?? denoError(error));
        else resolve(bytes.length);
      });
    });
  }

  /** Sends close_notify and FIN; reading goes on. */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /** Closes the TCP socket at once (during the handshake too): the peer sees FIN. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the connection is closed");
    this.#closed = true;
    this.#socket.destroy();
    try {
      this.#tcp.close(); // in case destroying the TLS socket has not reached it yet
    } catch {
      // already closed
    }
  }

  /** See `close`. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  /** Not used by the server. */
  ref(): void {}

  /** Not used by the server. */
  unref(): void {}

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
