/**
 * How a connection writes its answers: in full, under the frame timeout, with a small answer held
 * back to go out with the next write.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { writeAll } from "../io/byte_stream.ts";
import type { ServerLimits } from "./limits.ts";
import type { Deadline } from "./watchdog.ts";

/** What a `ResponseWriter` needs besides its socket. */
export interface ResponseWriterOptions {
  /** The connection's deadline from the server's watchdog. */
  deadline: Deadline;
  /** The operator's limits: a write stalled past the frame timeout closes the connection. */
  limits: ServerLimits;
}

/**
 * Writes a connection's answers. An answer held back with `defer` goes out in the same write as the
 * next bytes: two small writes in a row would wait for the client's delayed ACK.
 *
 * @example
 * ```ts ignore
 * const writer = new ResponseWriter(conn, { deadline, limits });
 * writer.defer(firstAnswer);
 * await writer.write(secondAnswer); // both leave in one write
 * ```
 */
export class ResponseWriter {
  readonly #conn: Deno.Conn;
  readonly #deadline: Deadline;
  readonly #limits: ServerLimits;
  /** An answer held back to go out with the next write (see `TransferIo.defer`). */
  #deferred: Uint8Array | undefined;

  /** @param conn the connection's socket (closed by its owner, not here) */
  constructor(conn: Deno.Conn, options: ResponseWriterOptions) {
    this.#conn = conn;
    this.#deadline = options.deadline;
    this.#limits = options.limits;
  }

  /** Whether an answer is held back, waiting for the next write. */
  get holding(): boolean {
    return this.#deferred !== undefined;
  }

  /** Holds `bytes` back to go out with the next write (replacing any held before). */
  defer(bytes: Uint8Array): void {
    this.#deferred = bytes;
  }

  /**
   * Writes the answer held back, if any, then `bytes`, all of them. Arms the frame timeout first
   * unless `armDeadline` is false (the caller armed a transfer deadline itself).
   *
   * @throws {ConnectionLostError} if the client went away (or the connection was closed).
   */
  async write(bytes: Uint8Array, armDeadline = true): Promise<void> {
    if (this.#deferred) {
      const joined = new Uint8Array(this.#deferred.length + bytes.length);
      joined.set(this.#deferred);
      joined.set(bytes, this.#deferred.length);
      this.#deferred = undefined;
      bytes = joined;
    }
    if (armDeadline) this.#deadline.arm(this.#limits.frameTimeoutMs, "client stopped reading");
    try {
      await writeAll(this.#conn, bytes);
    } catch (error) {
      throw new ConnectionLostError("client went away during the response", { cause: error });
    }
  }
}
