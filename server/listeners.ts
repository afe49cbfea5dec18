/**
 * The server's listening sockets: plain TCP (`Deno.listen`), or TLS (`node:tls` over sockets
 * accepted by `Deno.listen`, see `node_tls.ts`) whose certificate and key are re-read on `reload`
 * (certificate renewals) and used for the connections accepted from then on, the port open
 * throughout.
 *
 * @module
 */
import { listenNodeTls, type NodeTlsListener } from "./node_tls.ts";

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
  readonly #listener: Deno.Listener;
  /** The same listener when the port speaks TLS. */
  readonly #tls: NodeTlsListener | undefined;
  #closed = false;
  /** Why accepting stopped for good, if it did. */
  #stoppedBy: string | undefined;
  /** The last failed accept, until a connection is accepted again. */
  #lastFailure: { at: number; error: string } | undefined;
  /** Ends a back-off pause early (at `close`). */
  #wake: (() => void) | undefined;

  private constructor(spec: ListenSpec, listener: Deno.Listener, tls?: NodeTlsListener) {
    this.#spec = spec;
    this.#listener = listener;
    this.#tls = tls;
  }

  /**
   * Opens the listener (reading the PEM files for TLS).
   *
   * @throws {Deno.errors.AddrInUse} and file or TLS errors.
   */
  static async open(spec: ListenSpec): Promise<ServerListener> {
    if (!spec.tls) {
      return new ServerListener(spec, Deno.listen({ hostname: spec.hostname, port: spec.port }));
    }
    const pem = await readPem(spec.tls);
    const listener = listenNodeTls({ hostname: spec.hostname, port: spec.port, ...pem });
    return new ServerListener(spec, listener, listener);
  }

  /** The address listened on (with the real port when 0 was asked). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Accepted connections until `close`. An accept that fails because its peer reset or left in the
   * queue is passed over (`acceptFailure`); one that fails for want of descriptors or memory is
   * reported to `onTransientError`, waited out (5 ms doubling to 1 s) and retried: the port never
   * stops for either. Any other failure stops the listener (`health` says so) and is thrown.
   */
  async *connections(
    onTransientError: (error: unknown, retryInMs: number) => void = () => {},
  ): AsyncGenerator<Deno.Conn> {
    let backoffMs = 0;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        const failure = acceptFailure(error);
        if (failure === "peer") continue;
        if (failure === undefined) {
          this.#stoppedBy = describeError(error);
          throw error;
        }
        backoffMs = Math.min(MAX_ACCEPT_BACKOFF_MS, Math.max(MIN_ACCEPT_BACKOFF_MS, backoffMs * 2));
        this.#lastFailure = { at: performance.now(), error: describeError(error) };
        onTransientError(error, backoffMs);
        await this.#pause(backoffMs);
        continue;
      }
      backoffMs = 0;
      this.#lastFailure = undefined;
      yield conn;
    }
  }

  /**
   * Whether the port accepts connections: not if it stopped, nor while accepts fail (until
   * `2 * MAX_ACCEPT_BACKOFF_MS` after the last failure, or the next connection accepted).
   */
  health(): { ok: true } | { ok: false; reason: string } {
    const where = `${this.addr.hostname}:${this.addr.port}`;
    if (this.#stoppedBy) return { ok: false, reason: `${where} stopped: ${this.#stoppedBy}` };
    const failure = this.#lastFailure;
    if (failure && performance.now() - failure.at < 2 * MAX_ACCEPT_BACKOFF_MS) {
      return { ok: false, reason: `${where} cannot accept: ${failure.error}` };
    }
    return { ok: true };
  }

  /** Waits `ms`, or less if the listener is closed meanwhile. */
  async #pause(ms: number): Promise<void> {
    const wake = Promise.withResolvers<void>();
    this.#wake = wake.resolve;
    const timer = setTimeout(wake.resolve, ms);
    await wake.promise;
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /**
   * Re-reads the certificate and key; connections accepted from now on use them, those already
   * open keep theirs. The port stays open throughout. If the files cannot be used, the old
   * certificate stays.
   *
   * @throws file and TLS errors, with the old certificate still in use.
   */
  async reload(): Promise<boolean> {
    if (!this.#spec.tls || !this.#tls || this.#closed) return false;
    this.#tls.setCertificate(await readPem(this.#spec.tls));
    return true;
  }

  /** Stops listening. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}

/** The first pause after a failed accept; it doubles with each failure in a row. */
export const MIN_ACCEPT_BACKOFF_MS = 5;
/** The longest pause between accepts that fail. */
export const MAX_ACCEPT_BACKOFF_MS = 1000;

/** `errno` names of accept failures for want of descriptors or memory: waited out, then retried. */
const RESOURCE_ACCEPT_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/**
 * `errno` names of accept failures that are one connection's: a peer that reset or left while in
 * the queue (accept(2): Linux passes pending network errors of the new socket, and Deno asks a
 * reset one for its peer's address: ENOTCONN). The next connection is accepted at once.
 */
const PEER_ACCEPT_CODES = new Set([
  "ECONNABORTED",
  "ECONNRESET",
  "ENOTCONN",
  "EPROTO",
  "EPERM",
  "EINTR",
  "EAGAIN",
  "ETIMEDOUT",
  "ENETDOWN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENONET",
  "EOPNOTSUPP",
]);

/**
 * What a failed `accept` says: `"peer"`, one connection failed (retried at once: a client that
 * resets in the queue must not stop or slow the port), `"resources"`, out of descriptors or memory
 * (retried after a pause), or `undefined`: the listener itself failed (closed, unknown) and stops.
 *
 * @example
 * ```ts
 * import { acceptFailure } from "./listeners.ts";
 * import assert from "node:assert/strict";
 * const emfile = Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
 * assert.equal(acceptFailure(emfile), "resources");
 * assert.equal(acceptFailure(new Deno.errors.NotConnected("reset in the queue")), "peer");
 * assert.equal(acceptFailure(new Deno.errors.BadResource("closed")), undefined);
 * ```
 */
export function acceptFailure(error: unknown): "peer" | "resources" | undefined {
  if (
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.NotConnected
  ) {
    return "peer";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  if (PEER_ACCEPT_CODES.has(code)) return "peer";
  return RESOURCE_ACCEPT_CODES.has(code) ? "resources" : undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
