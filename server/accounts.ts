/**
 * Accounts from the users file: who may connect with which Ed25519 keys, append-only, quota.
 *
 * ```json
 * {"users": [{"id": 77, "name": "alice", "keys": ["ssh-ed25519 AAAA... alice@laptop"],
 *             "appendOnly": false, "quota": "50G"}]}
 * ```
 *
 * An entry with `"keys": []` retires an account: no key signs in, and version 1 stays refused for
 * its id (`--allow-v1` serves only ids that are no account's), so its files stay shut.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { BackupError } from "../common/backup_error.ts";
import { parseSshPublicKey } from "../protocol/v2/auth.ts";
import { parseByteSizeText } from "./byte_size.ts";

/** One account. */
export interface Account {
  /** The user id its files are stored under. */
  id: number;
  /** A name for the log. */
  name: string;
  /** Its public keys, raw (32 bytes each), with their comments for the log. */
  keys: Array<{ key: Uint8Array; comment: string }>;
  /** Deletes and replaces are refused. */
  appendOnly: boolean;
  /** Bytes it may store, past versions included; 0: the server's `--quota`. */
  quotaBytes: number;
}

/** A users file that cannot be used, with where and why. */
export class UsersFileError extends BackupError {
  /**
   * Builds the error.
   * @param message what is wrong, naming the entry
   */
  constructor(message: string) {
    super(message);
  }
}

const KNOWN_FIELDS = new Set(["id", "name", "keys", "appendOnly", "quota"]);

/**
 * Parses and checks a users file: ids are 0..2^32-1 and unique, every key is an `ssh-ed25519`
 * line, and no key belongs to two accounts.
 *
 * @throws {UsersFileError} naming the first problem.
 * @example
 * ```ts
 * import { parseUsersFile } from "./accounts.ts";
 * import { formatSshPublicKey } from "../protocol/v2/auth.ts";
 * import assert from "node:assert/strict";
 * const key = formatSshPublicKey(new Uint8Array(32).fill(1), "alice@laptop");
 * const accounts = parseUsersFile(JSON.stringify({ users: [{ id: 77, name: "alice", keys: [key] }] }));
 * assert.equal(accounts.get(77)?.name, "alice");
 * ```
 */
export function parseUsersFile(text: string): Map<number, Account> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsersFileError(`not JSON: ${(error as Error).message}`);
  }
  const users = (parsed as { users?: unknown })?.users;
  if (!Array.isArray(users)) throw new UsersFileError('expected {"users": [...]}');
  const accounts = new Map<number, Account>();
  const keyOwners = new Map<string, number>();
  users.forEach((entry, index) => {
    const account = parseAccount(entry, `users[${index}]`);
    if (accounts.has(account.id)) {
      throw new UsersFileError(`users[${index}]: id ${account.id} appears twice`);
    }
    for (const { key } of account.keys) {
      const hex = toHex(key);
      const owner = keyOwners.get(hex);
      if (owner !== undefined && owner !== account.id) {
        throw new UsersFileError(
          `users[${index}]: a key of user ${account.id} is also a key of user ${owner}`,
        );
      }
      keyOwners.set(hex, account.id);
    }
    accounts.set(account.id, account);
  });
  return accounts;
}

function parseAccount(entry: unknown, where: string): Account {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new UsersFileError(`${where}: expected an object`);
  }
  const record = entry as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!KNOWN_FIELDS.has(field)) throw new UsersFileError(`${where}: unknown field "${field}"`);
  }
  const { id, name, keys, appendOnly, quota } = record;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
    throw new UsersFileError(`${where}: "id" must be a whole number 0..4294967295`);
  }
  const at = `${where} (id ${id})`;
  if (name !== undefined && typeof name !== "string") {
    throw new UsersFileError(`${at}: "name" must be a string`);
  }
  if (!Array.isArray(keys) || keys.some((key) => typeof key !== "string")) {
    throw new UsersFileError(`${at}: "keys" must be a list of "ssh-ed25519 ..." lines`);
  }
  if (appendOnly !== undefined && typeof appendOnly !== "boolean") {
    throw new UsersFileError(`${at}: "appendOnly" must be true or false`);
  }
  let quotaBytes = 0;
  if (quota !== undefined) {
    const parsed = typeof quota === "number" ? quota : parseByteSizeText(String(quota));
    if (parsed === undefined || !Number.isSafeInteger(parsed) || parsed < 0) {
      throw new UsersFileError(`${at}: "quota" must be a size like 500M or 50G`);
    }
    quotaBytes = parsed;
  }
  return {
    id,
    name: name ?? String(id),
    keys: (keys as string[]).map((line, k) => {
      try {
        return parseSshPublicKey(line);
      } catch (error) {
        throw new UsersFileError(`${at}: keys[${k}]: ${(error as Error).message}`);
      }
    }),
    appendOnly: appendOnly ?? false,
    quotaBytes,
  };
}
