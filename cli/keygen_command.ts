/**
 * `keygen [--key FILE] [--user ID]` and `keygen --encryption`: makes a key, then records what was
 * set up (the key's path, and the server, user id, CA, TLS and timeout typed with it) in the
 * profile (`--profile NAME`, `$BACKUP_PROFILE`, else `default`), so that later commands need none
 * of those flags.
 *
 * @module
 */
import { resolve } from "node:path";
import type { Output } from "./client_commands.ts";
import { keygen } from "./client_connect.ts";
import { defaultKeyPath } from "../client/keys.ts";
import { keyUserIdPath } from "../client/user_id.ts";
import { defaultEncryptionKeyPath, generateEncryptionKey } from "../client/encryption/keys.ts";
import { ExitCode } from "./flags.ts";
import {
  checkProfileName,
  DEFAULT_PROFILE,
  type ProfileFlags,
  profileFromFlags,
  profilesPath,
  readProfiles,
  requestedProfile,
  tryProfilesPath,
} from "./profiles.ts";
import { recordInProfile } from "./profile_command.ts";

/** The flags `keygen` reads. */
export interface KeygenFlags extends ProfileFlags {
  encryption?: boolean;
  profile?: string;
}

/**
 * Runs `keygen`; resolves the exit code. The profiles file and the flags are checked before the
 * key is made: a key is never made that the profile then fails to record.
 *
 * @throws {UsageError} for a bad flag or profiles file; {KeyFileError} for a key already there.
 */
export async function keygenCommand(flags: KeygenFlags, output: Output): Promise<number> {
  const requested = requestedProfile(flags.profile);
  const name = requested ?? DEFAULT_PROFILE;
  checkProfileName(name);
  // With no home folder, a key written elsewhere (--key) goes unrecorded unless a profile is named.
  const file = requested === undefined ? tryProfilesPath() : profilesPath();
  const existing = file === undefined ? undefined : (await readProfiles(file))[name];
  // A key made with no profile named never repoints the default profile's key (a scratch key
  // would otherwise take over every later command): that needs --profile.
  const keep = (setting: "key" | "encryption-key", path: string) =>
    requested === undefined && Object.hasOwn(existing ?? {}, setting) &&
    existing?.[setting] !== path;
  const connection = { ...flags, key: undefined, "encryption-key": undefined };
  if (flags.encryption) {
    const path = resolve(flags["encryption-key"] ?? defaultEncryptionKeyPath());
    const kept = keep("encryption-key", path);
    const settings = profileFromFlags(
      { ...connection, "encryption-key": kept ? undefined : path },
      "keygen",
    );
    await generateEncryptionKey(path);
    output.note(`keep a copy of it somewhere safe: without it, nothing sealed can be restored`);
    if (kept) output.note(keptNote(name, "encryption-key", existing));
    const keepIfSet = requested === undefined ? ["encryption-key" as const] : [];
    if (file !== undefined) await record(file, name, settings, keepIfSet, output);
    output.result({ op: "keygen", encryptionKey: path }, `wrote the encryption key to ${path}`);
    return ExitCode.Ok;
  }
  const target = resolve(flags.key ?? defaultKeyPath());
  const kept = keep("key", target);
  const settings = profileFromFlags({ ...connection, key: kept ? undefined : target }, "keygen");
  const userId = settings.user;
  const { path, line } = await keygen(target, userId);
  if (kept) output.note(keptNote(name, "key", existing));
  const keepIfSet = requested === undefined ? ["key" as const] : [];
  if (file !== undefined) await record(file, name, settings, keepIfSet, output);
  output.note(
    `wrote the key to ${path} (and ${path}.pub${
      userId === undefined ? "" : `; user ${userId} in ${keyUserIdPath(path)}`
    }); give this line to the server's operator${
      userId === undefined ? "" : ` for user ${userId}`
    }:`,
  );
  output.result({ op: "keygen", path, publicKey: line }, line);
  return ExitCode.Ok;
}

function keptNote(name: string, setting: string, existing: unknown): string {
  const path = (existing as Record<string, unknown>)[setting];
  return `profile ${name} keeps its ${setting} ${path}: to record this one, give --profile NAME`;
}

async function record(
  file: string,
  name: string,
  settings: ReturnType<typeof profileFromFlags>,
  keepIfSet: readonly ("key" | "encryption-key")[],
  output: Output,
): Promise<void> {
  if (Object.keys(settings).length === 0) return;
  // The profile read before the key was made may be stale: the rule holds under the lock.
  await recordInProfile(file, name, settings, keepIfSet);
  output.note(`profile ${name} in ${file}: ${Object.keys(settings).join(", ")}`);
}
