/**
 * What makes a write durable: data flushed while it streams in, the final flush, and the fsync of the
 * folder that holds a new directory entry (shared by concurrent callers).
 *
 * @module
 */

/**
 * Flushes a file being written in the background, one `fdatasync` at a time, each after
 * `everyBytes` more bytes were written; `finish` makes every byte durable. Flushing while the network
 * delivers keeps the disk busy during the upload instead of after it (see docs/performance.md). A
 * failed background flush fails `finish`: after a failed fsync the kernel may already have dropped
 * the unwritten pages, so a later fsync that succeeds proves nothing.
 */
export class BackgroundFlusher {
  readonly #file: Deno.FsFile;
  readonly #everyBytes: number;
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  /**
   * @param file the file being written
   * @param everyBytes bytes written between background flushes
   */
  constructor(file: Deno.FsFile, everyBytes: number) {
    this.#file = file;
    this.#everyBytes = everyBytes;
  }

  /** Counts `count` bytes written; starts a flush if enough are unflushed and none is running. */
  wrote(count: number): void {
    this.#unflushed += count;
    if (this.#unflushed < this.#everyBytes || this.#flushing || this.#failure) return;
    this.#unflushed = 0;
    this.#flushing = this.#file.syncData().then(
      () => void (this.#flushing = undefined),
      (error) => void (this.#failure = { error }, this.#flushing = undefined),
    );
  }

  /** Resolves once no background flush is running. Never rejects. */
  async settled(): Promise<void> {
    await this.#flushing;
  }

  /** Waits for a running flush, then flushes everything: resolves once all bytes are durable. */
  async finish(): Promise<void> {
    await this.#flushing;
    if (this.#failure) throw this.#failure.error;
    await this.#file.syncData();
  }
}

/**
 * Group commit for folder entries: concurrent writers into one folder share its fsyncs. Each caller
 * gets a sync that starts after its call (so after its entry was made), which is all durability
 * needs: while one sync runs, every caller that arrives waits for the single next one.
 */
export class DirectorySyncs {
  readonly #running = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, Promise<void>>();

  /** Resolves once an fsync of `dir` that started after this call has finished. */
  sync(dir: string): Promise<void> {
    const queued = this.#queued.get(dir);
    if (queued) return queued;
    const running = this.#running.get(dir);
    if (!running) return this.#start(dir);
    const next = running.catch(() => {}).then(() => {
      this.#queued.delete(dir);
      return this.#start(dir);
    });
    this.#queued.set(dir, next);
    return next;
  }

  #start(dir: string): Promise<void> {
    const sync: Promise<void> = syncDirectory(dir).finally(() => {
      if (this.#running.get(dir) === sync) this.#running.delete(dir);
    });
    this.#running.set(dir, sync);
    return sync;
  }
}

/** Fsyncs a directory so that entries created or renamed in it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for fsync there
  const handle = Deno.openSync(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
