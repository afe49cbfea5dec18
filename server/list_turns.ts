/**
 * Turns for listings: one user's lists and version lists run a few at a time, the rest wait in
 * line. Each page of a list yields the event loop, but a user with many connections each asking
 * for a costly list (a list at a past time over many deleted names, a long history) would still
 * take a page's turn per connection for every one another client gets.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";

/** Listings of one user that run at once, by default. */
export const LISTS_PER_USER = 2;

/** The lines of waiting listings, per user. */
export class ListTurns {
  readonly #perUser: number;
  readonly #users = new Map<number, { running: number; waiting: Array<() => void> }>();

  /** @param perUser listings of one user that run at once (at least 1) */
  constructor(perUser: number = LISTS_PER_USER) {
    this.#perUser = Math.max(1, perUser);
  }

  /**
   * Waits for a turn of `userId`'s, first come first served; dispose of the turn when the listing
   * is over (answered, failed or cut).
   *
   * @param closed aborted when the connection closes: the wait ends
   * @throws {ConnectionLostError} if `closed` is aborted before the turn comes.
   *
   * @example
   * ```ts
   * import { ListTurns } from "./list_turns.ts";
   * import assert from "node:assert/strict";
   * const turns = new ListTurns(1);
   * const first = await turns.take(7);
   * let second = false;
   * const waiting = turns.take(7).then((turn) => (second = true, turn));
   * using _other = await turns.take(8); // another user does not wait
   * assert.equal(second, false);
   * first[Symbol.dispose]();
   * (await waiting)[Symbol.dispose]();
   * assert.equal(second, true);
   * ```
   */
  async take(userId: number, closed?: AbortSignal): Promise<Disposable> {
    if (closed?.aborted) throw new ConnectionLostError("the connection closed before its list");
    let user = this.#users.get(userId);
    if (!user) this.#users.set(userId, user = { running: 0, waiting: [] });
    if (user.running < this.#perUser) {
      user.running++;
    } else {
      // The turn is handed over by the listing that ends (`running` stays counted); a connection
      // closed meanwhile (its frame timeout, shutdown) leaves the line and frees its slots.
      const waiting = user.waiting;
      await new Promise<void>((resolve, reject) => {
        const leave = () => {
          waiting.splice(waiting.indexOf(turn), 1);
          reject(new ConnectionLostError("the connection closed while its list waited its turn"));
        };
        const turn = () => {
          closed?.removeEventListener("abort", leave);
          resolve();
        };
        waiting.push(turn);
        closed?.addEventListener("abort", leave, { once: true });
      });
    }
    let given = false;
    return {
      [Symbol.dispose]: () => {
        if (given) return;
        given = true;
        const next = user.waiting.shift();
        if (next) return next();
        if (--user.running === 0) this.#users.delete(userId);
      },
    };
  }
}
