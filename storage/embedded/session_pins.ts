/**
 * Open snapshot sessions, as garbage collection sees them (docs/snapshots_plan.md §3).
 *
 * A session pins released blobs by the time it started, not by the blobs it was told of, so memory
 * does not grow with a session's blob count: while a session of a user is open, garbage collection
 * removes no blob of that user released (its last reference gone) after the user's oldest open
 * session started, for the grace period at most. A session held open longer (by a client, or by an
 * attacker keeping its forgotten snapshots on disk past the quota) pins nothing released any more:
 * what it was told is there may go, and its commit's completeness check answers those ids (234),
 * which the client sends again. Unclaimed blobs need no pin: they are kept for the grace period
 * from their indexing, and a session pins for no longer.
 *
 * A session also pins the packs it wrote (not removed as empty nor repacked) until it closes,
 * whatever its age: they may hold trees it has not indexed yet, and a pack gone under them would
 * leave the index pointing at nothing. Pins are per user: a session only ever relies on its own
 * user's blobs, and one user holding a session open for ever must not keep other users' garbage.
 *
 * @module
 */

/** When a session started: the engine's clock and the index's release counter then. */
export interface SessionStart {
  /** When the session opened; it pins released blobs until this plus the grace period. */
  sinceMs: number;
  /** Blobs whose `released_seq` is above this are kept while the pin lasts. */
  sinceSeq: number;
}

/** One open session, as `SessionPins.open` counts it in. */
export interface SessionPin {
  /** The names of the packs the session wrote: the session adds each one as it writes it. */
  readonly packs: Set<string>;
  /** Counts the session out (once): nothing it pinned is kept for it any more. */
  release(): void;
}

/** The open sessions of one engine. */
export class SessionPins {
  readonly #open = new Set<SessionStart & { userId: number; packs: Set<string> }>();

  /** Counts a session of `userId` in. */
  open(userId: number, start: SessionStart): SessionPin {
    const entry = { ...start, userId, packs: new Set<string>() };
    this.#open.add(entry);
    return { packs: entry.packs, release: () => void this.#open.delete(entry) };
  }

  /** How many sessions are open. */
  get count(): number {
    return this.#open.size;
  }

  /**
   * Each user with an open session that started at or after `sinceMs` (now less the grace period)
   * and the earliest `sinceSeq` among them, as the index's statements read it
   * (`json_extract(?, '$.u' || user_id)`): `{"u7": 12}`. Older sessions pin no released blob.
   */
  releasedJson(sinceMs: number): string {
    const pins: Record<string, number> = {};
    for (const { userId, sinceMs: started, sinceSeq } of this.#open) {
      if (started < sinceMs) continue;
      const key = `u${userId}`;
      pins[key] = Math.min(pins[key] ?? sinceSeq, sinceSeq);
    }
    return JSON.stringify(pins);
  }

  /** The names of the packs open sessions wrote, as a JSON array (for `json_each`). */
  packsJson(): string {
    const names: string[] = [];
    for (const { packs } of this.#open) for (const pack of packs) names.push(pack);
    return JSON.stringify(names);
  }
}
