/** One watched connection's deadline. */
export interface Deadline {
  /** Starts (or restarts) the countdown: `onExpire(reason)` runs if it is not re-armed within `ms`. */
  arm(ms: number, reason: string): void;
  /** Stops the countdown. */
  disarm(): void;
  /** Stops watching for good. */
  release(): void;
}

interface Entry {
  expiresAt: number;
  reason: string;
  onExpire: (reason: string) => void;
}

/**
 * Enforces per-connection deadlines with one periodic sweep instead of a timer per read, so that
 * re-arming on every read costs an assignment, not a timer.
 */
export class Watchdog {
  readonly #entries = new Set<Entry>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** @param resolutionMs how often deadlines are checked: a deadline fires up to this late */
  constructor(resolutionMs: number) {
    this.#timer = setInterval(() => this.#sweep(), resolutionMs);
  }

  /** Watches a new connection; `onExpire` is called at most once, when an armed deadline passes. */
  watch(onExpire: (reason: string) => void): Deadline {
    const entry: Entry = { expiresAt: Infinity, reason: "", onExpire };
    this.#entries.add(entry);
    return {
      arm: (ms, reason) => {
        entry.expiresAt = ms > 0 ? performance.now() + ms : Infinity;
        entry.reason = reason;
      },
      disarm: () => {
        entry.expiresAt = Infinity;
      },
      release: () => {
        this.#entries.delete(entry);
      },
    };
  }

  /** Stops the sweep. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(entry);
        entry.onExpire(entry.reason);
      }
    }
  }
}
