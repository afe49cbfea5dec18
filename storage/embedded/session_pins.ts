/**
 * Open snapshot sessions, as garbage collection sees them: each pins by the time it started, not by
 * the blobs it was told of, so memory does not grow with a session's blob count
 * (docs/snapshots_plan.md §3). While a session is open, garbage collection removes no blob released
 * (its last reference gone) after the oldest open session started, and no unclaimed blob indexed
 * since then.
 *
 * @module
 */

/** When a session started: the engine's clock and the index's release counter then. */
export interface SessionStart {
  /** Unclaimed blobs indexed at or after this time are kept. */
  sinceMs: number;
  /** Blobs whose `released_seq` is above this are kept. */
  sinceSeq: number;
}

/** The open sessions of one engine. */
export class SessionPins {
  readonly #open = new Set<SessionStart>();

  /** Counts a session in; the function returned counts it out (once). */
  open(start: SessionStart): () => void {
    const entry = { ...start };
    this.#open.add(entry);
    return () => void this.#open.delete(entry);
  }

  /** How many sessions are open. */
  get count(): number {
    return this.#open.size;
  }

  /** The earliest start among open sessions, or `undefined` when none is open. */
  oldest(): SessionStart | undefined {
    let oldest: SessionStart | undefined;
    for (const start of this.#open) {
      oldest = oldest === undefined ? { ...start } : {
        sinceMs: Math.min(oldest.sinceMs, start.sinceMs),
        sinceSeq: Math.min(oldest.sinceSeq, start.sinceSeq),
      };
    }
    return oldest;
  }
}
