/**
 * The version 3 codec's errors. Both are `ProtocolError`s, so `server/error_status.ts` answers them
 * as it answers any broken frame (1003, code 1, and a close).
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";

/**
 * A tagged frame that breaks the protocol, with the tag read from its head when there was one: a
 * server echoes it in its 1003, so the client pairs the refusal with the request it sent.
 */
export class TaggedProtocolError extends ProtocolError {
  /**
   * Builds the error.
   * @param message what was expected and what was got
   * @param tag the frame's tag, `undefined` when the head was not read
   */
  constructor(message: string, readonly tag: number | undefined) {
    super(message);
  }
}

/**
 * A stream that ended inside a frame, or inside a list of snapshots before its end mark: what was
 * received is incomplete and must not be used.
 */
export class TruncatedStreamError extends ProtocolError {}
