/** Where the client keeps its user id, and whether it was just made. */
export interface StoredUserId {
  /** The id. */
  userId: number;
  /** The file it is kept in. */
  path: string;
  /** True if this call generated it. */
  created: boolean;
}

/**
 * The file a user expects the id in: `$XDG_CONFIG_HOME/backup-client/user-id`, else
 * `~/.config/backup-client/user-id` (`%APPDATA%\backup-client\user-id` on Windows).
 *
 * @throws {Error} if no home or config folder is known.
 */
export function userIdPath(): string {
  return `${configFolder()}/user-id`;
}

/**
 * The client's config folder: `$XDG_CONFIG_HOME/backup-client`, else `~/.config/backup-client`
 * (`%APPDATA%\backup-client` on Windows).
 *
 * @throws {Error} if no home or config folder is known.
 */
export function configFolder(): string {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const base = Deno.build.os === "windows"
    ? env("APPDATA")
    : env("XDG_CONFIG_HOME") ?? (env("HOME") && `${env("HOME")}/.config`);
  if (!base) throw new Error("cannot tell where the client's config folder is: set HOME");
  return `${base}/backup-client`;
}

/**
 * Reads the stable user id, generating and saving a random one on first use.
 *
 * @throws {Error} if the file holds something other than an id, or cannot be written.
 */
export async function loadOrCreateUserId(path = userIdPath()): Promise<StoredUserId> {
  const userId = await readUserIdFile(path);
  if (userId !== undefined) return { userId, path, created: false };
  // 1..2^32-1: zero is left out so that an id never looks like an unset field.
  const made = crypto.getRandomValues(new Uint32Array(1))[0] || 1;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, `${made}\n`, { createNew: true });
  return { userId: made, path, created: true };
}

/** The file beside a key that holds the user id the key was registered for: `KEY.user-id`. */
export function keyUserIdPath(keyPath: string): string {
  return `${keyPath}.user-id`;
}

/**
 * The user id recorded beside the key at `keyPath`, or `undefined` if none is.
 *
 * @throws {Error} if the file holds something other than an id.
 */
export async function readKeyUserId(keyPath: string): Promise<number | undefined> {
  return await readUserIdFile(keyUserIdPath(keyPath));
}

/**
 * Records `userId` beside the key at `keyPath`, unless an id is recorded there already (the first
 * one stays: an explicit `--user` for another account does not replace it). Resolves whether it
 * wrote.
 */
export async function recordKeyUserId(keyPath: string, userId: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(keyUserIdPath(keyPath), `${userId}\n`, { createNew: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}

/**
 * The id in `path` (the config folder's file, or one beside a key); `undefined` if there is no such
 * file. Never makes one.
 *
 * @throws {Error} if the file holds something other than an id.
 */
export async function readUserIdFile(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const userId = Number(text);
  if (!/^\d+$/.test(text) || userId > 0xffff_ffff) {
    throw new Error(`${path} should hold a user id (0..4294967295), found "${text}"`);
  }
  return userId;
}
