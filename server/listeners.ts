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
   * Accepted connections until `close`. An accept that fails for want of
   * descriptors or memory, or because the peer gave up in the queue (see `isTransientAcceptError`),
   * is reported to `onTransientError`, waited out (5 ms doubling to 1 s) and retried: the port
   * never stops for it. Any other failure stops the listener (`health` says so) and is thrown.
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
        if (!isTransientAcceptError(error)) {
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

/** `errno` names of accept failures that pass: out of descriptors or memory, a peer that left. */
const TRANSIENT_ACCEPT_CODES = new Set([
  "EMFILE",
  "ENFILE",
  "ENOBUFS",
  "ENOMEM",
  "ECONNABORTED",
  "ECONNRESET",
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
 * Whether a failed `accept` is worth retrying: the listening socket is fine, the moment is not
 * (EMFILE, ENFILE, ECONNABORTED and the like). Anything else (the listener closed, an unknown
 * failure) stops it.
 *
 * @example
 * ```ts
 * import { isTransientAcceptError } from "./listeners.ts";
 * import assert from "node:assert/strict";
 * const emfile = Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
 * assert.equal(isTransientAcceptError(emfile), true);
 * assert.equal(isTransientAcceptError(new Deno.errors.BadResource("closed")), false);
 * ```
 */
export function isTransientAcceptError(error: unknown): boolean {
  if (
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.ConnectionReset
  ) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && TRANSIENT_ACCEPT_CODES.has(code);
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
