/**
 * Which client the command line uses: version 2 with a key (the one given, or the one `keygen`
 * wrote), else version 1; over TLS with `--tls` or `--ca`.
 *
 * @module
 */
import { BackupClient } from "../client/backup_client.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { FileClient } from "../client/file_client.ts";
import { defaultKeyPath, generateKey, loadKey } from "../client/keys.ts";
import { parseSeconds, UsageError } from "./flags.ts";

/** The flags that decide how to connect. */
export interface ConnectFlags {
  key?: string;
  tls?: boolean;
  ca?: string;
  v1?: boolean;
  /** `--timeout`: seconds to wait for an answer; 0: forever. */
  timeout?: string;
}

/** Connects as `userId` to `server` as the flags say; `note` tells people which protocol. */
export async function connectClient(
  flags: ConnectFlags,
  server: { hostname: string; port: number },
  userId: number,
  note: (text: string) => void,
): Promise<FileClient> {
  const caCerts = flags.ca === undefined ? undefined : [await readCa(flags.ca)];
  const timeoutMs = flags.timeout === undefined
    ? undefined
    : parseSeconds("timeout", flags.timeout);
  const transport = { ...server, tls: flags.tls || caCerts !== undefined, caCerts, timeoutMs };
  if (flags.v1) {
    if (flags.key !== undefined) throw new UsageError("--v1 and --key do not go together");
    return await BackupClient.connect({ ...transport, userId });
  }
  const keyPath = flags.key ?? await existingDefaultKey();
  if (keyPath === undefined) {
    note("no key (see keygen): speaking protocol version 1, without authentication");
    return await BackupClient.connect({ ...transport, userId });
  }
  return await BackupClientV2.connect({ ...transport, userId, key: await loadKey(keyPath) });
}

/** `keygen [--key FILE]`: resolves the file written and the public key's line. */
export async function keygen(path: string | undefined): Promise<{ path: string; line: string }> {
  const target = path ?? defaultKeyPath();
  return { path: target, line: await generateKey(target, "backup-client") };
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
