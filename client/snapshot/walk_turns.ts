/**
 * Turns of the event loop for the walk. The walk reads small files with synchronous calls and
 * hands their chunks to the pipeline, whose awaits resolve at once: without a turn, no answer is
 * read and no write completes until the whole tree is walked, and the server sits idle while the
 * client walks, then the client while the server stores. A turn every `WALK_SLICE_MS` of walking
 * lets the pipeline's answers and writes in, so that the server stores what was read while the
 * walk goes on.
 *
 * The event loop polls sockets only when it has nothing ready to run: an asynchronous op that
 * completes at once (an empty digest, a `stat`), `setImmediate` or a channel message resolve
 * without that, and the socket's answers stayed unread for dozens of such turns
 * (`bench/event_loop_turns.ts` measures the ways). So a turn waits for a timer, which the loop
 * cannot run before it polled, or for the pipeline's next answer, whichever comes first: answers
 * already in end the wait at once (a timer alone cost 2-4 ms a turn, most of it idle). It is
 * taken only while the pipeline holds at least `TURN_HELD_BYTES` (a walk that sends little, as an
 * unchanged tree's, needs none).
 *
 * @module
 */

/** How long the walk works between two turns of the event loop, in milliseconds. */
export const WALK_SLICE_MS = 4;
/** Bytes the pipeline holds (read, not yet stored) from which the walk takes turns. */
export const TURN_HELD_BYTES = 1024 * 1024;

/** What a turn looks at: the pipeline (`BlobPipeline`). */
export interface TurnSource {
  /** Raw bytes read and not yet stored or known present. */
  readonly heldBytes: number;
  /** Resolves at the sink's next answer. */
  nextAnswer(): Promise<void>;
}

/**
 * Lets the event loop poll sockets once `sliceMs` passed since the last turn.
 *
 * @example
 * ```ts
 * import { WalkTurns } from "./walk_turns.ts";
 * const turns = new WalkTurns();
 * const idle = { heldBytes: 0, nextAnswer: () => new Promise<void>(() => {}) };
 * await turns.pass(idle); // nothing held: resolves without a turn
 * ```
 */
export class WalkTurns {
  readonly #sliceMs: number;
  #since = performance.now();

  /** @param sliceMs the work between two turns (default `WALK_SLICE_MS`) */
  constructor(sliceMs = WALK_SLICE_MS) {
    this.#sliceMs = sliceMs;
  }

  /**
   * Takes a turn if a slice passed since the last and `source` holds at least `TURN_HELD_BYTES`;
   * else resolves at once (a microtask).
   */
  async pass(source: TurnSource): Promise<void> {
    if (source.heldBytes < TURN_HELD_BYTES || performance.now() - this.#since < this.#sliceMs) {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timed = new Promise<void>((resolve) => timer = setTimeout(resolve, 0));
    await Promise.race([timed, source.nextAnswer()]);
    clearTimeout(timer);
    this.#since = performance.now();
  }
}
