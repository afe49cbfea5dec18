/**
 * Owners on restore (as root): a snapshot carries each entry's numeric ids and, where the source
 * system had them, the user and group names. On this system a name that exists wins (a user moved
 * to another machine keeps their files, whatever their uid there); an unknown name, or none, falls
 * back to the numeric id, as restic and tar do.
 *
 * Deno has no `getpwnam`, so the names are read from `/etc/passwd` and `/etc/group` (what the C
 * library's files backend reads; names served by LDAP or NSS modules alone are not seen).
 *
 * @module
 */
import type { EntryMetadata } from "../../protocol/v3/tree.ts";

/** Numeric ids to give an entry. */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Names to ids, from the text of a passwd and a group file.
 *
 * @example
 * ```ts
 * import { OwnerResolver } from "./restore_owners.ts";
 * import assert from "node:assert/strict";
 * const owners = new OwnerResolver("alice:x:1005:1005::/home/alice:/bin/sh\n", "staff:x:50:\n");
 * const entry = { uid: 501, gid: 20, user: "alice", group: "wheel" };
 * assert.deepEqual(owners.ownerOf(entry), { uid: 1005, gid: 20 });
 * ```
 */
export class OwnerResolver {
  readonly #users: Map<string, number>;
  readonly #groups: Map<string, number>;

  /**
   * @param passwd the text of a passwd file (`name:x:uid:...` per line)
   * @param group the text of a group file (`name:x:gid:...` per line)
   */
  constructor(passwd: string, group: string) {
    this.#users = parseIds(passwd);
    this.#groups = parseIds(group);
  }

  /** The resolver for this system; a file that cannot be read counts as empty. */
  static async load(): Promise<OwnerResolver> {
    const read = (path: string) => Deno.readTextFile(path).catch(() => "");
    return new OwnerResolver(await read("/etc/passwd"), await read("/etc/group"));
  }

  /** The ids to give `entry`: its names' ids where they exist here, else its numeric ids. */
  ownerOf(entry: Pick<EntryMetadata, "uid" | "gid" | "user" | "group">): Owner {
    const uid = entry.user === undefined ? undefined : this.#users.get(entry.user);
    const gid = entry.group === undefined ? undefined : this.#groups.get(entry.group);
    return { uid: uid ?? entry.uid, gid: gid ?? entry.gid };
  }
}

/**
 * The uid this process creates files as (its file-system uid), read from a file it creates in
 * `dir` and removes: unlike `Deno.uid()`, it needs no `--allow-sys`, only the write access a
 * restore has anyway.
 */
export async function creatorUid(dir: string): Promise<number> {
  const probe = `${dir}/.restore-uid-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeFile(probe, new Uint8Array(), { createNew: true, mode: 0o600 });
  try {
    const uid = (await Deno.lstat(probe)).uid;
    if (uid === null) throw new Error("this system reports no file owners");
    return uid;
  } finally {
    await Deno.remove(probe);
  }
}

function parseIds(text: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (!name || name.startsWith("#") || id === undefined || !/^\d+$/.test(id)) continue;
    if (!ids.has(name)) ids.set(name, Number(id));
  }
  return ids;
}
