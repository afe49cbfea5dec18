/**
 * Noticing a server that rolls back or loses snapshots (issue 23, docs/keys_plan.md §5): the
 * client remembers, per host it backed up, the newest snapshot it knows of (the one it committed,
 * or the newest listed since); when a later list of the user's snapshots lacks it, the client
 * warns, once, then takes the newest listed as the one to remember. A snapshot this client forgets
 * raises no warning: the next list says which is the host's newest, and the watch goes on from
 * there. A forget from another machine of the same account looks the same as a loss, and the
 * warning says so. A strict watch (`--strict`) throws `RollbackError` instead and remembers
 * nothing new: every strict run that reads the whole list fails until a run that is not strict
 * has taken the list as it is (commands that read no list, `prune`, `key`, `init`, check nothing).
 *
 * @example
 * ```ts
 * import { RollbackWatch } from "./rollback_watch.ts";
 * import assert from "node:assert/strict";
 * const warnings: string[] = [];
 * const watch = new RollbackWatch({ laptop: { id: "ab".repeat(32) } }, (text) => warnings.push(text));
 * watch.listed([]); // the server lists nothing: the snapshot made here is gone
 * assert.match(warnings[0], /abababab .* laptop/);
 * assert.deepEqual(watch.remembered(), {});
 * ```
 *
 * @module
 */
import { decodeSnapshot } from "../../protocol/v3/snapshot.ts";
import type { CommitOutcome, ListedEntry, SnapshotSessionLike } from "./snapshot_session.ts";

/** What is remembered of a host's newest snapshot. */
export interface RememberedSnapshot {
  /** Its id (64 hex digits); `""` after this client forgot it: the next list says which is. */
  id: string;
}

/** Per host name, the newest snapshot known. */
export type RememberedSnapshots = Record<string, RememberedSnapshot>;

/** A strict watch found a remembered snapshot missing from the server's list. */
export class RollbackError extends Error {
  /** @param message what is missing, and what to do */
  constructor(message: string) {
    super(message);
    this.name = "RollbackError";
  }
}

/** See the module comment. */
export class RollbackWatch {
  readonly #remembered: Map<string, RememberedSnapshot>;
  readonly #warn: (text: string) => void;
  readonly #strict: boolean;
  #changed = false;

  /**
   * @param remembered what an earlier run remembered (for this server and user)
   * @param warn where a warning goes
   * @param options `strict`: a missing snapshot is a `RollbackError`, not a warning
   */
  constructor(
    remembered: RememberedSnapshots,
    warn: (text: string) => void,
    options: { strict?: boolean } = {},
  ) {
    this.#remembered = new Map(Object.entries(remembered));
    this.#warn = warn;
    this.#strict = options.strict ?? false;
  }

  /** What to remember for the next run. */
  remembered(): RememberedSnapshots {
    return Object.fromEntries(this.#remembered);
  }

  /** Whether `remembered()` differs from what the watch started with. */
  get changed(): boolean {
    return this.#changed;
  }

  /** A snapshot of `host` this client committed. */
  committed(host: string, id: string): void {
    this.#remembered.set(host, { id });
    this.#changed = true;
  }

  /** A snapshot this client forgot. */
  forgot(id: string): void {
    for (const [host, known] of this.#remembered) {
      if (known.id !== id) continue;
      this.#remembered.set(host, { id: "" }); // still watched: the next list names the newest
      this.#changed = true;
    }
  }

  /** A whole list of the user's snapshots, oldest stored first: checked against what is known. */
  listed(entries: Iterable<{ id: string; host: string }>): void {
    const check = this.listCheck();
    for (const entry of entries) check.add(entry.id, entry.host);
    check.end();
  }

  /**
   * The check of one list, fed entry by entry (oldest stored first); it keeps only what concerns
   * the hosts remembered, however long the list.
   */
  listCheck(): { add(id: string, host: string): void; end(): void } {
    const found = new Set<string>();
    const newest = new Map<string, string>();
    return {
      add: (id, host) => {
        const known = this.#remembered.get(host);
        if (known === undefined) return;
        if (known.id === id || known.id === "") found.add(known.id);
        newest.set(host, id); // oldest first: the last one of a host is its newest
      },
      end: () => this.#settle(found, newest),
    };
  }

  #settle(found: Set<string>, newest: Map<string, string>): void {
    const missing = [...this.#remembered].filter(([, known]) =>
      known.id !== "" && !found.has(known.id)
    );
    if (this.#strict && missing.length > 0) {
      const [host, known] = missing[0];
      throw new RollbackError(
        `the server no longer lists snapshot ${known.id.slice(0, 8)} of host ${host}, the ` +
          `newest this client knew of: it was forgotten from another machine, or the server ` +
          `lost it or was rolled back (--strict: stopped; a run without --strict takes the ` +
          `server's list as it is from then on)`,
      );
    }
    for (const [host, known] of missing) {
      this.#warn(
        `warning: the server no longer lists snapshot ${known.id.slice(0, 8)} of host ${host}, ` +
          `the newest this client knew of: it was forgotten from another machine, or the ` +
          `server lost it or was rolled back (if no machine of this account forgot it, tell ` +
          `the server's operator; said once)`,
      );
    }
    for (const [host, known] of this.#remembered) {
      const now = newest.get(host);
      if (now === undefined && known.id !== "") this.#remembered.delete(host);
      else if (now !== undefined) this.#remembered.set(host, { id: now });
      this.#changed ||= (now ?? "") !== known.id;
    }
  }
}

// A record that does not decode is the list reader's to report (`readSnapshotList`), not ours.
function hostOf(record: Uint8Array): string | undefined {
  try {
    return decodeSnapshot(record).host;
  } catch {
    return undefined;
  }
}

/** `session` with its commits, forgets and whole lists reported to `watch`. */
export function watchedSession<T extends SnapshotSessionLike>(session: T, watch: RollbackWatch): T {
  const calls: Partial<SnapshotSessionLike> = {
    async commitSnapshot(record, tree): Promise<CommitOutcome> {
      const outcome = await session.commitSnapshot(record, tree);
      if (outcome.committed) watch.committed(decodeSnapshot(record).host, outcome.id);
      return outcome;
    },
    async forgetSnapshot(id): Promise<void> {
      await session.forgetSnapshot(id);
      watch.forgot(id);
    },
    async *listSnapshots(): AsyncIterable<ListedEntry> {
      const check = watch.listCheck();
      for await (const entry of session.listSnapshots()) {
        const host = hostOf(entry.record);
        if (host !== undefined) check.add(entry.id, host);
        yield entry;
      }
      check.end(); // only a list read to its end says what is missing
    },
  };
  return new Proxy(session, {
    get(target, key) {
      if (Object.hasOwn(calls, key)) return calls[key as keyof SnapshotSessionLike];
      const value = Reflect.get(target, key, target);
      // Methods run on the session itself: its private fields are not the proxy's.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
