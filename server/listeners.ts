/**
 * The server's listening sockets: plain TCP, or TLS whose certificate and key are re-read on
 * `reload` (certificate renewals) by opening a new listener on the same address.
 *
 * @module
 */

/** Where and how to listen. */
export interface ListenSpec {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM files of the certificate (chain) and its key: the port speaks TLS. */
  tls?: { certFile: string; keyFile: string };
}

/** A listener whose TLS certificate can be replaced while connections go on. */
export class ServerListener {
  readonly #spec: ListenSpec;
  #listener: Deno.Listener;
  #pem: Pem | undefined;
  #closed = false;

  private constructor(spec: ListenSpec, listener: Deno.Listener, pem: Pem | undefined) {
    this.#spec = spec;
    this.#listener = listener;
    this.#pem = pem;
  }

  /**
   * Opens the listener (reading the PEM files for TLS).
   *
   * @throws {Deno.errors.AddrInUse} and file or TLS errors.
   */
  static async open(spec: ListenSpec): Promise<ServerListener> {
    const pem = spec.tls && await readPem(spec.tls);
    const listener = pem
      ? Deno.listenTls({ hostname: spec.hostname, port: spec.port, ...pem })
      : Deno.listen({ hostname: spec.hostname, port: spec.port });
    return new ServerListener(spec, listener, pem);
  }

  /** The address listened on (with the real port when 0 was asked). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** True if the port speaks TLS. */
  get tls(): boolean {
    return this.#spec.tls !== undefined;
  }

  /** Accepted connections, across reloads, until `close`. */
  async *connections(): AsyncGenerator<Deno.Conn> {
    while (!this.#closed) {
      const listener = this.#listener;
      try {
        for await (const conn of listener) yield conn;
      } catch (error) {
        if (listener === this.#listener && !this.#closed) throw error;
      }
      if (listener === this.#listener) return; // closed, not replaced
    }
  }

  /**
   * Re-reads the certificate and key and listens with them on the same address. Connections
   * already open keep theirs. If the files cannot be used, the old certificate stays.
   *
   * @throws file and TLS errors, with the old listener still in place.
   */
  async reload(): Promise<boolean> {
    if (!this.#spec.tls || !this.#pem || this.#closed) return false;
    const pem = await readPem(this.#spec.tls);
    const { hostname, port } = this.addr;
    // The port is free between the close and the listen: a connection in that instant is refused.
    this.#listener.close();
    try {
      this.#listener = Deno.listenTls({ hostname, port, ...pem });
    } catch (error) {
      this.#listener = Deno.listenTls({ hostname, port, ...this.#pem });
      throw error;
    }
    this.#pem = pem;
    return true;
  }

  /** Stops listening. */
  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}

interface Pem {
  cert: string;
  key: string;
}

async function readPem(tls: { certFile: string; keyFile: string }): Promise<Pem> {
  const [cert, key] = await Promise.all([
    Deno.readTextFile(tls.certFile),
    Deno.readTextFile(tls.keyFile),
  ]);
  return { cert, key };
}
