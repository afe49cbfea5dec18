/**
 * Which client the command line uses: version 2 with a key (the one given, or the one `keygen`
 * wrote), else version 1; over TLS with `--tls` or `--ca`; and which user id it acts for.
 *
 * @module
 */
import type { FileClient } from "../client/file_client.ts";
import { defaultKeyPath, generateKey, loadKey } from "../client/keys.ts";
import {
  keyUserIdPath,
  loadOrCreateUserId,
  readKeyUserId,
  readUserIdFile,
  recordKeyUserId,
  userIdPath,
} from "../client/user_id.ts";
import { parseInteger, parseSeconds, UsageError } from "./flags.ts";

/** The flags that decide how to connect. */
export interface ConnectFlags {
  key?: string;
  tls?: boolean;
  ca?: string;
  v1?: boolean;
  /** `--timeout`: seconds to wait for an answer; 0: forever. */
  timeout?: string;
}

/** Who connects, and where people are told about it. */
export interface ConnectOptions {
  /** The user id requests act for. */
  userId: number;
  /** The key to authenticate with (see `keyToUse`); absent: protocol version 1. */
  keyPath?: string;
  /** Tells people which protocol is spoken. */
  note?: (text: string) => void;
  /** Warns, whatever `--quiet` says (an account's session in clear). */
  warn?: (text: string) => void;
}

/**
 * The key the flags call for: `--key FILE`, else the one `keygen` wrote if it exists; none with
 * `--v1`. @throws {UsageError} for `--v1` with `--key`.
 */
export async function keyToUse(flags: ConnectFlags): Promise<string | undefined> {
  if (flags.v1) {
    if (flags.key !== undefined) throw new UsageError("--v1 and --key do not go together");
    return undefined;
  }
  return flags.key ?? await existingDefaultKey();
}

/** The user id to act for, where it came from, and whether it is to be recorded beside the key. */
export interface ResolvedUser {
  /** The id requests act for. */
  userId: number;
  /** A note for people (a new id was made), if any. */
  note?: string;
  /** `--user` was given with a key that has no recorded id: record it after a login succeeds. */
  recordBesideKey: boolean;
}

/**
 * The user id: `--user`; else, with a key, the id recorded beside it (by `keygen --user` or the
 * first login that worked), or the id an earlier version kept in the config folder; never a
 * made-up one, since an account's id is the operator's choice; else (protocol version 1) the id
 * kept in the config folder, made once at random.
 *
 * @throws {UsageError} for a key without a recorded id and no `--user`.
 */
export async function resolveUserId(
  userFlag: string | undefined,
  keyPath: string | undefined,
): Promise<ResolvedUser> {
  const recorded = keyPath === undefined ? undefined : await readKeyUserId(keyPath);
  if (userFlag !== undefined) {
    const userId = parseInteger("user", userFlag, 0, 0xffff_ffff);
    return { userId, recordBesideKey: keyPath !== undefined && recorded === undefined };
  }
  if (recorded !== undefined) return { userId: recorded, recordBesideKey: false };
  if (keyPath !== undefined) {
    // Earlier versions kept a key's id in the config folder: a setup that worked goes on working.
    const stored = await readUserIdFile(userIdPath());
    if (stored !== undefined) return { userId: stored, recordBesideKey: true };
    throw new UsageError(
      `with a key, say which account it is: --user ID (the id the server's operator registered ` +
        `the key for); it is then remembered in ${keyUserIdPath(keyPath)}`,
    );
  }
  const stored = await loadOrCreateUserId();
  return {
    userId: stored.userId,
    note: stored.created ? `new user id ${stored.userId}, kept in ${stored.path}` : undefined,
    recordBesideKey: false,
  };
}

/** Connects to `server` as the flags and `options` say. */
export async function connectClient(
  flags: ConnectFlags,
  server: { hostname: string; port: number },
  options: ConnectOptions,
): Promise<FileClient> {
  const { userId, keyPath } = options;
  const caCerts = flags.ca === undefined ? undefined : [await readCa(flags.ca)];
  const timeoutMs = flags.timeout === undefined
    ? undefined
    : parseSeconds("timeout", flags.timeout);
  const transport = { ...server, tls: flags.tls || caCerts !== undefined, caCerts, timeoutMs };
  if (keyPath === undefined) {
    if (!flags.v1) {
      options.note?.("no key (see keygen): speaking protocol version 1, without authentication");
    }
    // The per-file clients are loaded only by the commands that use them (start-up time).
    const { BackupClient } = await import("../client/backup_client.ts");
    return await BackupClient.connect({ ...transport, userId });
  }
  const key = await loadKey(keyPath);
  if (!transport.tls && !isLoopback(server.hostname)) {
    // The signature proves the key without giving it away, but what follows is in clear: anyone
    // on the way can read the files and alter the requests (a delete in place of a list).
    options.warn?.(
      `warning: authenticating to ${server.hostname} over plain TCP: the session travels in ` +
        `clear and can be read or altered on the way; use --tls (and the server's TLS port)`,
    );
  }
  const { BackupClientV2 } = await import("../client/backup_client_v2.ts");
  return await BackupClientV2.connect({ ...transport, userId, key });
}

/** True for a name or address of this machine's loopback interface. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === "::1" || /^::ffff:127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `keygen [--key FILE] [--user ID]`: resolves the file written and the public key's line; with a
 * user id, records it beside the key so that later commands need no `--user`.
 */
export async function keygen(
  path: string | undefined,
  userId?: number,
): Promise<{ path: string; line: string }> {
  const target = path ?? defaultKeyPath();
  const line = await generateKey(target, "backup-client");
  if (userId !== undefined) await recordKeyUserId(target, userId);
  return { path: target, line };
}

async function existingDefaultKey(): Promise<string | undefined> {
  let path: string;
  try {
    path = defaultKeyPath();
  } catch {
    return undefined; // no home folder: no default key
  }
  return await Deno.stat(path).then(() => path, () => undefined);
}

async function readCa(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`cannot read --ca ${path}: ${(error as Error).message}`);
  }
}
