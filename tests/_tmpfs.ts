/** A small tmpfs for tests of a full local disk: only where this machine allows mounting (root). */

/** Mounts a tmpfs of `size` at `dir`; false where this machine does not allow it (not root). */
export async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const result = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return result.success;
}

/** Unmounts what `mountTmpfs` mounted at `dir`. */
export async function unmountTmpfs(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir] }).output();
}

/** Whether a tmpfs can be mounted here (tried once on a temp folder); `test` is warned if not. */
export async function canMountTmpfs(test: string): Promise<boolean> {
  const probe = await Deno.makeTempDir({ prefix: "backup-tmpfs-probe-" });
  const can = await mountTmpfs(probe, "1m");
  if (can) await unmountTmpfs(probe);
  await Deno.remove(probe);
  if (!can) console.warn(`${test}: cannot mount a tmpfs here (needs root); not run`);
  return can;
}
