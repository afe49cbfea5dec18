/**
 * One server per root. Two servers on one root would each think its pins and its garbage
 * collection's view are the whole truth: the second one's start-up sweep would delete the packs the
 * first is still writing, whose versions it then acknowledges. The server holds an exclusive
 * `flock` on `ROOT/server.lock` while it runs; the kernel drops it when the process ends, however
 * it ends, so a crash never leaves the root locked. Readers (`verify`, `export`) take no lock.
 *
 * @module
 */

/** The lock file's name in the root. */
export const ROOT_LOCK_FILE_NAME = "server.lock";

/** Another process (or another open of this one) holds the root. */
export class RootInUseError extends Error {
  override name = "RootInUseError";
}

/**
 * The held lock; `release` lets the next server in.
 *
 * @example A second lock on the same root is refused until the first is released
 * ```ts
 * import assert from "node:assert/strict";
 * const root = await Deno.makeTempDir();
 * const first = await RootLock.take(root);
 * await assert.rejects(RootLock.take(root), RootInUseError);
 * first.release();
 * (await RootLock.take(root)).release();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class RootLock {
  private constructor(readonly path: string, private readonly file: Deno.FsFile) {}

  /**
   * Takes the root's lock, writing this process's id into the file for whoever is refused next.
   *
   * @throws {RootInUseError} if another holder has it (the message names its process id).
   */
  static async take(root: string): Promise<RootLock> {
    const path = `${root}/${ROOT_LOCK_FILE_NAME}`;
    // Not `truncate`: the holder's pid must survive a refused opener.
    const file = await Deno.open(path, { read: true, write: true, create: true });
    let locked = false;
    try {
      locked = await file.tryLock(true);
      if (!locked) {
        const holder = new TextDecoder().decode(await readAll(file)).trim();
        throw new RootInUseError(
          `the backup root ${root} is in use by another server${
            /^\d+$/.test(holder) ? ` (process ${holder})` : ""
          }: one server per root`,
        );
      }
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      return new RootLock(path, file);
    } catch (error) {
      file.close(); // closing drops the lock too
      throw error;
    }
  }

  /** Lets the next server in (closing the file drops the lock). */
  release(): void {
    this.file.close();
  }
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const buffer = new Uint8Array(64);
  const count = await file.read(buffer);
  return buffer.subarray(0, count ?? 0);
}
