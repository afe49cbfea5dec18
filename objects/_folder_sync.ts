/**
 * Folder fsyncs for `FolderStore`, shared by concurrent writers. A copy of `syncDirectory` and
 * `DirectorySyncs` from `storage/durability.ts`, which `objects/` may not import (it sits below
 * `storage/`): once `storage/durability.ts` moves down (to `io/` or here), this file goes.
 *
 * @module
 */

/**
 * Group commit for folder entries: each caller gets an fsync of the folder that started after its
 * call (so after its entry was made); callers that arrive while one runs share the next one.
 */
export class FolderSyncs {
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
    const sync: Promise<void> = syncFolder(dir).finally(() => {
      if (this.#running.get(dir) === sync) this.#running.delete(dir);
    });
    this.#running.set(dir, sync);
    return sync;
  }
}

/** Fsyncs a folder so that entries created, renamed or removed in it survive a crash. */
export async function syncFolder(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return; // folders cannot be opened for fsync there
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}
