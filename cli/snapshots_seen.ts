/**
 * Where the client remembers, between runs, the newest snapshot it knows of per server, user and
 * host (`client/snapshot/rollback_watch.ts`): `snapshots-seen.json` in the config folder, written
 * whole (`writePrivateJson`), at most `MAX_ACCOUNTS` accounts of `MAX_HOSTS` hosts each (the
 * least recently used go first), and the accounts whose repository this client opened encrypted
 * (`MAX_ACCOUNTS` at most): a server that later says "not encrypted" is not believed. A file that
 * cannot be read as one is started again. Each change is read and written under a lock, so that
 * backups running at once keep each other's.
 *
 * @module
 */
import { configFolder } from "../client/user_id.ts";
import type { RememberedSnapshots } from "../client/snapshot/rollback_watch.ts";
import { withPrivateLock, writePrivateJson } from "./private_json.ts";

/** The file's name in the config folder. */
export const SEEN_FILE = "snapshots-seen.json";
/** Accounts (server and user) remembered at most. */
export const MAX_ACCOUNTS = 64;
/** Hosts remembered per account at most. */
export const MAX_HOSTS = 16;

type SeenFile = {
  version: 1;
  accounts: Record<string, RememberedSnapshots>;
  /** Accounts known to be encrypted, least recently marked first. */
  encrypted?: string[];
};

/** The remembered snapshots of one account, and how to store what a run learnt. */
export interface SeenAccount {
  /** What earlier runs remembered. */
  remembered: RememberedSnapshots;
  /** Stores `remembered` for the account (this account becomes the most recently used). */
  save(remembered: RememberedSnapshots): Promise<void>;
  /** Whether this client opened the account's repository encrypted before. */
  encrypted: boolean;
  /** Remembers that the account's repository is encrypted. */
  markEncrypted(): Promise<void>;
}

/** The account `server` (`HOST:PORT`) and `userId`'s entry; `undefined` without a config folder. */
export async function seenAccount(
  server: string,
  userId: number,
): Promise<SeenAccount | undefined> {
  let path: string;
  try {
    path = `${configFolder()}/${SEEN_FILE}`;
  } catch {
    return undefined; // no home folder: nothing to remember with
  }
  const key = `${server} user ${userId}`;
  const file = await readSeen(path);
  return {
    remembered: file.accounts[key] ?? {},
    encrypted: file.encrypted?.includes(key) ?? false,
    save: (remembered) =>
      withPrivateLock(path, async () => {
        const now = await readSeen(path);
        const accounts = { ...now.accounts };
        delete accounts[key];
        const hosts = Object.entries(remembered).slice(-MAX_HOSTS);
        if (hosts.length > 0) accounts[key] = Object.fromEntries(hosts);
        const kept = Object.entries(accounts).slice(-MAX_ACCOUNTS);
        await writePrivateJson(path, { ...now, accounts: Object.fromEntries(kept) });
      }),
    markEncrypted: () =>
      withPrivateLock(path, async () => {
        const now = await readSeen(path);
        const encrypted = [...(now.encrypted ?? []).filter((k) => k !== key), key];
        await writePrivateJson(path, { ...now, encrypted: encrypted.slice(-MAX_ACCOUNTS) });
      }),
  };
}

async function readSeen(path: string): Promise<SeenFile> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (parsed?.version === 1 && typeof parsed.accounts === "object" && parsed.accounts !== null) {
      const accounts: Record<string, RememberedSnapshots> = {};
      for (const [key, hosts] of Object.entries(parsed.accounts)) {
        const valid = Object.entries(hosts as Record<string, { id?: unknown }>)
          .filter(([, known]) =>
            typeof known?.id === "string" && /^(?:[0-9a-f]{64})?$/.test(known.id)
          );
        accounts[key] = Object.fromEntries(valid) as RememberedSnapshots;
      }
      const encrypted = Array.isArray(parsed.encrypted)
        ? parsed.encrypted.filter((key: unknown) => typeof key === "string")
        : [];
      return { version: 1, accounts, encrypted };
    }
  } catch {
    // missing or not JSON: start again
  }
  return { version: 1, accounts: {} };
}
