/**
 * Group commit: the index commits without an fsync (`synchronous = NORMAL`), and this fsyncs its
 * write-ahead log off the event loop. Every commit made before an fsync started is durable once that
 * fsync ends, so one fsync acknowledges every commit that arrived while the previous one ran.
 *
 * @module
 */

/** Counters of the group commit. */
export interface WalSyncStats {
  /** Fsyncs of the log that finished. */
  commits: number;
  /** Changes they made durable. */
  changes: number;
}

/** Makes the commits of one SQLite database in WAL mode durable, many per fsync. */
export class WalSync {
  readonly #walPath: string;
  readonly #dbPath: string;
  #handle: { file: Deno.FsFile; path: string; ino: number | null; dev: number } | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #waiting = 0;
  readonly #stats: WalSyncStats = { commits: 0, changes: 0 };

  /** @param dbPath the database file; its log is `dbPath-wal` */
  constructor(dbPath: string) {
    this.#dbPath = dbPath;
    this.#walPath = `${dbPath}-wal`;
  }

  /**
   * Resolves once every commit made before this call is durable.
   *
   * @param changes how many uploads and deletes those commits carried, for the counters
   */
  durable(changes: number): Promise<void> {
    this.#waiting += changes;
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    const next = this.#running.catch(() => {}).then(() => {
      this.#queued = undefined;
      return this.#start();
    });
    this.#queued = next;
    return next;
  }

  /** Counters since start. */
  stats(): WalSyncStats {
    return { ...this.#stats };
  }

  /** Closes the log's handle. */
  close(): void {
    this.#handle?.file.close();
    this.#handle = undefined;
  }

  #start(): Promise<void> {
    const changes = this.#waiting;
    this.#waiting = 0;
    const sync: Promise<void> = (async () => {
      await this.#current().syncData();
      this.#stats.commits++;
      this.#stats.changes += changes;
    })().finally(() => {
      if (this.#running === sync) this.#running = undefined;
    });
    this.#running = sync;
    return sync;
  }

  /**
   * A handle on the log as it is now. SQLite keeps one log file while a connection is open, but
   * would make a new one if every connection closed; a changed inode means the handle is stale.
   */
  #current(): Deno.FsFile {
    let onDisk: Deno.FileInfo | undefined;
    let path = this.#walPath;
    try {
      onDisk = Deno.lstatSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      path = this.#dbPath; // no log: the commits were checkpointed into the database file
      onDisk = Deno.lstatSync(path);
    }
    const held = this.#handle;
    if (held && held.path === path && held.ino === onDisk.ino && held.dev === onDisk.dev) {
      return held.file;
    }
    held?.file.close();
    const file = Deno.openSync(path, { read: true });
    this.#handle = { file, path, ino: onDisk.ino, dev: onDisk.dev };
    return file;
  }
}
