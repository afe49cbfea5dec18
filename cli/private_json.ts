/**
 * A JSON file of the client's config folder, readable by its owner only and written whole: a
 * temporary file beside it (mode 0600, synced), renamed over the old one, then the folder synced,
 * so that a crash leaves the old file or the new, never half of one. A read, change and write of one
 * goes under `withPrivateLock`, so that two clients at once never lose each other's change.
 *
 * @module
 */

/**
 * Writes `value` as JSON to `path` (see the module comment); a `path` that is a symbolic link
 * (a dotfiles manager's) stays one: the file it points to is replaced.
 */
export async function writePrivateJson(path: string, value: unknown): Promise<void> {
  path = await Deno.realPath(path).catch(() => path); // no such file yet: `path` is the file
  const folder = path.slice(0, path.lastIndexOf("/")) || ".";
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  const bytes = new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
  try {
    using file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    // The mode given at creation is narrowed by the umask only; say it outright.
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    await Deno.remove(temp).catch(() => {}); // the write's error is the one to report
    throw error;
  }
  await Deno.rename(temp, path);
  if (Deno.build.os !== "windows") {
    using dir = await Deno.open(folder, { read: true });
    await dir.sync();
  }
}

/**
 * Runs `update` (a read, change and write of `path`) while this process holds an exclusive lock
 * on `path.lock` beside it, so that clients running at once take turns. The lock file stays (one
 * removed while another client waits on it would let a third in beside that one).
 */
export async function withPrivateLock<T>(path: string, update: () => Promise<T>): Promise<T> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true, mode: 0o700 });
  using lock = await Deno.open(`${path}.lock`, { write: true, create: true, mode: 0o600 });
  await lock.lock(true);
  try {
    return await update();
  } finally {
    await lock.unlock();
  }
}
