/**
 * Work an engine starts and does not await where it starts it (removals after an answer, pruning on
 * a timer), kept so that `settled()` and `close()` can wait for all of it.
 *
 * @module
 */

/**
 * The promises an engine left running, and the timer of a task it repeats. Errors are not caught
 * here: a task that may fail catches (and reports) its own error before it is tracked.
 *
 * @example
 * ```ts
 * import { BackgroundWork } from "./background_work.ts";
 * import assert from "node:assert/strict";
 * const background = new BackgroundWork();
 * let runs = 0;
 * background.repeat(() => Promise.resolve(void runs++), 0); // 0: once now, never again
 * await background.settled();
 * background.stop();
 * assert.equal(runs, 1);
 * ```
 */
export class BackgroundWork {
  readonly #running = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Keeps `work` until it settles, for `settled()`. */
  track(work: Promise<unknown>): void {
    this.#running.add(work);
    work.finally(() => this.#running.delete(work));
  }

  /**
   * Starts `task` now, then every `intervalMs` until `stop()` (never again if `intervalMs` is 0),
   * tracking each run.
   */
  repeat(task: () => Promise<unknown>, intervalMs: number): void {
    const run = () => this.track(task());
    run();
    if (intervalMs > 0) this.#timer = setInterval(run, intervalMs);
  }

  /** Resolves once the work tracked so far, and any tracked meanwhile, is done. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  /** Stops the repeated task; runs under way go on (await `settled()` for them). */
  stop(): void {
    clearInterval(this.#timer);
  }
}
