/**
 * Writing a version 3 connection's answers: small answers gathered into one write (a client that
 * pipelines 200 blobs gets its 200 answers in a few writes, not 200), a blob's bytes written
 * as they are, in pieces under the transfer deadline, and a 235 streamed from the store's list.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { type ByteSink, writeAll } from "../io/byte_stream.ts";
import { StatusV3 } from "../protocol/v3/constants.ts";
import {
  encodeResponseV3Parts,
  encodeSnapshotEntryParts,
  END_OF_SNAPSHOTS,
} from "../protocol/v3/responses.ts";
import type { ServerLimits } from "./limits.ts";
import type { AnswerV3 } from "./requests_v3.ts";
import { transferDeadline } from "./transfers.ts";
import type { Deadline } from "./watchdog.ts";

/** Bytes of answers gathered before they are written. */
const BATCH_BYTES = 64 * 1024;
/** Parts larger than this are written as they are: a copy would cost more than the write saved. */
const GATHERED_PART_BYTES = BATCH_BYTES / 2;
/** Largest write of a blob's bytes: the transfer deadline is armed again between pieces. */
const PIECE_BYTES = 256 * 1024;

/** What an `AnswerWriterV3` needs besides its socket. */
export interface AnswerWriterOptions {
  /** The writer's countdown (a part of the connection's deadline). */
  deadline: Deadline;
  /** The frame timeout and the slowest transfer accepted. */
  limits: Pick<ServerLimits, "frameTimeoutMs" | "minTransferRate">;
}

/**
 * Gathers answers and writes them; see the module comment.
 *
 * @example
 * ```ts ignore
 * const writer = new AnswerWriterV3(conn, { deadline, limits });
 * await writer.add(encodeResponseV3Parts({ status: 231, tag: 7 }));
 * await writer.flush(); // out in one write with any gathered before it
 * ```
 */
export class AnswerWriterV3 {
  readonly #sink: ByteSink;
  readonly #deadline: Deadline;
  readonly #limits: AnswerWriterOptions["limits"];
  #batch: Uint8Array | undefined;
  #filled = 0;
  /** `performance.now()` when the oldest byte gathered was added. */
  #since = 0;
  /** The one timer of `heldFor` for what is gathered now. */
  #held:
    | { passed: Promise<void>; resolve: () => void; timer: ReturnType<typeof setTimeout> }
    | undefined;

  /** @param sink the connection's socket (closed by its owner, not here) */
  constructor(sink: ByteSink, options: AnswerWriterOptions) {
    this.#sink = sink;
    this.#deadline = options.deadline;
    this.#limits = options.limits;
  }

  /** Bytes gathered and not yet written. */
  get gathered(): number {
    return this.#filled;
  }

  /** Milliseconds the oldest byte gathered has waited (0 when nothing is). */
  heldMs(now: number = performance.now()): number {
    return this.#filled === 0 ? 0 : now - this.#since;
  }

  /**
   * Resolves once the oldest byte gathered has waited `ms`, or once what is gathered is written
   * (at once if nothing is): one timer for all the answers gathered together, whoever asks (a
   * timer per request cost the server CPU per small blob: docs/performance.md, "Latest").
   */
  heldFor(ms: number): Promise<void> {
    if (this.#filled === 0) return Promise.resolve();
    let held = this.#held;
    if (!held) {
      const wait = this.#since + ms - performance.now();
      if (wait <= 0) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      held = this.#held = { passed: promise, resolve, timer: setTimeout(resolve, wait) };
    }
    return held.passed;
  }

  /**
   * Adds the parts of a frame: small ones are gathered, a large one is written at once after what
   * was gathered before it.
   *
   * @throws {ConnectionLostError} if the client went away.
   */
  async add(parts: readonly Uint8Array[]): Promise<void> {
    for (const part of parts) {
      if (part.length > GATHERED_PART_BYTES) {
        await this.flush();
        await this.#write(part);
        continue;
      }
      if (this.#filled + part.length > BATCH_BYTES) await this.flush();
      this.#batch ??= new Uint8Array(BATCH_BYTES);
      if (this.#filled === 0) this.#since = performance.now();
      this.#batch.set(part, this.#filled);
      this.#filled += part.length;
    }
  }

  /** Writes what was gathered. @throws {ConnectionLostError} if the client went away. */
  async flush(): Promise<void> {
    if (this.#filled === 0) return;
    const bytes = this.#batch!.subarray(0, this.#filled);
    this.discard();
    await this.#write(bytes);
  }

  /** Forgets what is gathered (written, or the connection is ending) and stops `heldFor`'s timer. */
  discard(): void {
    this.#filled = 0;
    if (this.#held) {
      clearTimeout(this.#held.timer);
      this.#held.resolve();
      this.#held = undefined;
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const startedAt = performance.now();
    try {
      for (let at = 0; at < bytes.length; at += PIECE_BYTES) {
        const { ms, reason } = transferDeadline(this.#limits, {
          startedAt,
          bytesDone: at,
          what: "download",
        });
        this.#deadline.arm(ms, reason === "download stalled" ? "client stopped reading" : reason);
        await writeAll(this.#sink, bytes.subarray(at, at + PIECE_BYTES));
      }
    } catch (error) {
      throw new ConnectionLostError("client went away during the response", { cause: error });
    } finally {
      this.#deadline.disarm();
    }
  }
}

/**
 * Adds an answer to `writer`: its frame, or a 235 with the store's snapshots streamed behind it
 * and the end mark. Resolves the blob or record bytes it carried, for the log.
 *
 * @throws {ConnectionLostError} if the client went away, or if the store failed once part of a
 *   235 was out (the connection cannot carry another answer).
 */
export async function addAnswer(writer: AnswerWriterV3, answer: AnswerV3): Promise<number> {
  if ("response" in answer) {
    await writer.add(encodeResponseV3Parts(answer.response));
    return answer.bytes;
  }
  await writer.add(encodeResponseV3Parts({ status: StatusV3.Snapshots, tag: answer.tag }));
  let bytes = 0;
  try {
    for await (const snapshot of answer.snapshots) {
      await writer.add(encodeSnapshotEntryParts(snapshot));
      bytes += snapshot.record.length;
    }
  } catch (error) {
    if (error instanceof ConnectionLostError) throw error;
    throw new ConnectionLostError("list of snapshots cut short", { cause: error });
  }
  await writer.add([END_OF_SNAPSHOTS]);
  return bytes;
}
