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
  /** While a reload swaps listeners: resolved once the new one is in place. */
  #swap:
    | { iterationEnded: PromiseWithResolvers<void>; done: PromiseWithResolvers<void> }
    | undefined;

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

  /** Accepted connections, across reloads, until `close`. */
  async *connections(): AsyncGenerator<Deno.Conn> {
    while (!this.#closed) {
      try {
        for await (const conn of this.#listener) yield conn;
      } catch (error) {
        if (!this.#swap && !this.#closed) throw error;
      }
      const swap = this.#swap;
      if (!swap) return; // closed, not replaced
      swap.iterationEnded.resolve();
      await swap.done.promise;
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
    // The socket is released once the pending accept has ended; the port is free from then until
    // the new listener takes it, and a connection in that instant is refused.
    const swap = {
      iterationEnded: Promise.withResolvers<void>(),
      done: Promise.withResolvers<void>(),
    };
    this.#swap = swap;
    this.#listener.close();
    await swap.iterationEnded.promise;
    try {
      this.#listener = Deno.listenTls({ hostname, port, ...pem });
      this.#pem = pem;
    } catch (error) {
      this.#listener = Deno.listenTls({ hostname, port, ...this.#pem });
      throw error;
    } finally {
      this.#swap = undefined;
      swap.done.resolve();
    }
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
