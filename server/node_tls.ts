/**
 * A TLS listener whose sockets have Nagle's algorithm off, as the plain listener's have.
 *
 * `Deno.listenTls` gives no way to set `TCP_NODELAY` on an accepted socket, and Deno's TLS stream
 * sends each TLS record (16 KiB of plaintext at most) with a `send` of its own: an answer over
 * 16 KiB leaves as two sends, and the second waits for the client's delayed ACK of the first
 * (about 40 ms on Linux). So does the first answer after a handshake, behind the session tickets.
 * Here a `node:net` server accepts the TCP socket, turns Nagle off, and `node:tls` speaks TLS
 * over it; each connection is wrapped as a `Deno.Conn`, so that the rest of the server does not
 * know the difference.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";

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

/** Received bytes held per connection before the socket is paused (back-pressure). */
const READ_HIGH_WATER = 1024 * 1024;

/**
 * Listens for TLS connections on `options.hostname:port`.
 *
 * @throws {Deno.errors.AddrInUse} if the address is taken; TLS errors for a bad certificate or key.
 * @example
 * ```ts ignore
 * const listener = await listenNodeTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * for await (const conn of listener) serve(conn);
 * ```
 */
export async function listenNodeTls(options: NodeTlsListenOptions): Promise<NodeTlsListener> {
  const context = tls.createSecureContext({ cert: options.cert, key: options.key });
  const server = net.createServer({ noDelay: true, pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(denoError(error)));
    server.listen({ host: options.hostname, port: options.port }, () => resolve());
  });
  return new NodeTlsListener(server, context);
}

/** A `Deno.Listener` of `NodeTlsConn`s. */
export class NodeTlsListener implements Deno.Listener<Deno.TlsConn, Deno.NetAddr> {
  readonly #server: net.Server;
  readonly #context: tls.SecureContext;
  readonly #waiting: net.Socket[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly addr: Deno.NetAddr;

  /** Use `listenNodeTls`. */
  constructor(server: net.Server, context: tls.SecureContext) {
    this.#server = server;
    this.#context = context;
    const address = server.address() as net.AddressInfo;
    this.addr = { transport: "tcp", hostname: address.address, port: address.port };
    server.on("connection", (socket: net.Socket) => {
      // Until accepted, an error (a reset) must not go unhandled; the connection sees it later.
      socket.on("error", () => {});
      this.#waiting.push(socket);
      this.#wake?.();
    });
    // Accept failures (EMFILE and the like) leave the server listening: nothing to do but wait.
    server.on("error", () => {});
  }

  /** The next connection. @throws {Deno.errors.BadResource} once closed. */
  async accept(): Promise<Deno.TlsConn> {
    while (this.#waiting.length === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("the listener is closed");
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return new NodeTlsConn(this.#waiting.shift()!, this.#context) as unknown as Deno.TlsConn;
  }

  /** Connections until `close`. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.TlsConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
    }
  }

  /** Stops listening; connections accepted go on, those not yet accepted are closed. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the listener is closed");
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    this.#wake?.();
  }

  /** See `close`. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  /** Keeps the process alive while listening. */
  ref(): void {
    this.#server.ref();
  }

  /** Lets the process end while listening. */
  unref(): void {
    this.#server.unref();
  }
}

/**
 * A server-side TLS connection over a `node:net` socket with Nagle off, with the methods of a
 * `Deno.TlsConn` the server uses. The handshake starts at once; `handshake()` waits for it.
 */
export class NodeTlsConn {
  readonly #socket: tls.TLSSocket;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #secure: Promise<void>;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;

  /** @param raw an accepted TCP socket (paused); this object owns and closes it */
  constructor(raw: net.Socket, context: tls.SecureContext) {
    raw.setNoDelay(true);
    this.localAddr = {
      transport: "tcp",
      hostname: raw.localAddress ?? "",
      port: raw.localPort ?? 0,
    };
    this.remoteAddr = {
      transport: "tcp",
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.#socket = socket;
    const secure = Promise.withResolvers<void>();
    this.#secure = secure.promise;
    this.#secure.catch(() => {}); // a connection closed before anyone asked for the handshake
    socket.once("secure", () => secure.resolve());
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= READ_HIGH_WATER) socket.pause();
      this.#wakeReader();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wakeReader();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= denoError(error);
      secure.reject(this.#error);
      this.#wakeReader();
    });
    socket.on("close", () => {
      this.#ended = true;
      secure.reject(
        new Deno.errors.UnexpectedEof("the connection closed during the TLS handshake"),
      );
      this.#wakeReader();
    });
    raw.resume();
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
    if (this.#queued < READ_HIGH_WATER && this.#socket.isPaused()) this.#socket.resume();
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

  /** Closes the socket at once (during the handshake too). */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the connection is closed");
    this.#closed = true;
    this.#socket.destroy();
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

/** A `node:` error as the `Deno.errors` class the rest of the code tells apart. */
function denoError(error: Error & { code?: string }): Error {
  const classes: Record<string, new (message: string) => Error> = {
    ECONNRESET: Deno.errors.ConnectionReset,
    EPIPE: Deno.errors.BrokenPipe,
    ECONNABORTED: Deno.errors.ConnectionAborted,
    EADDRINUSE: Deno.errors.AddrInUse,
    ENOTCONN: Deno.errors.NotConnected,
  };
  const Class = error.code ? classes[error.code] : undefined;
  if (!Class) return error;
  const mapped = new Class(error.message);
  mapped.cause = error;
  return mapped;
}
