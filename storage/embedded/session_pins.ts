/**
 * Open snapshot sessions, as garbage collection sees them: each pins by the time it started, not by
 * the blobs it was told of, so memory does not grow with a session's blob count
 * (docs/snapshots_plan.md §3). While a session of a user is open, garbage collection removes no
 * blob of that user released (its last reference gone) after the user's oldest open session
 * started, and no unclaimed blob of that user indexed since then. Pins are per user: a session
 * only ever relies on its own user's blobs, and one user holding a session open for ever must not
 * keep every other user's garbage.
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
  readonly #open = new Set<SessionStart & { userId: number }>();

  /** Counts a session of `userId` in; the function returned counts it out (once). */
  open(userId: number, start: SessionStart): () => void {
    const entry = { ...start, userId };
    this.#open.add(entry);
    return () => void this.#open.delete(entry);
  }

  /** How many sessions are open. */
  get count(): number {
    return this.#open.size;
  }

  /** The earliest start among the open sessions of `userId`, or `undefined` when it has none. */
  oldest(userId: number): SessionStart | undefined {
    return this.#byUser().get(userId);
  }

  /**
   * Each user with an open session and that user's earliest start, as the index's statements read
   * it (`json_extract(?, '$.u' || user_id || '[0]')`): `{"u7": [sinceSeq, sinceMs]}`.
   */
  json(): string {
    const pins: Record<string, [number, number]> = {};
    for (const [userId, start] of this.#byUser()) {
      pins[`u${userId}`] = [start.sinceSeq, start.sinceMs];
    }
    return JSON.stringify(pins);
  }

  #byUser(): Map<number, SessionStart> {
    const oldest = new Map<number, SessionStart>();
    for (const { userId, sinceMs, sinceSeq } of this.#open) {
      const seen = oldest.get(userId);
      oldest.set(userId, {
        sinceMs: Math.min(seen?.sinceMs ?? sinceMs, sinceMs),
        sinceSeq: Math.min(seen?.sinceSeq ?? sinceSeq, sinceSeq),
      });
    }
    return oldest;
  }
}
