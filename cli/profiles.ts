/**
 * Profiles: named sets of the client's connection flags (server, user id, key, encryption key,
 * CA, TLS, timeout), kept in `profiles.json` in the client's config folder, as the AWS CLI and
 * rclone keep named profiles. `--profile NAME` (else `$BACKUP_PROFILE`, else `default` if it
 * exists) picks one; a flag typed on the command line overrides the profile's value.
 *
 * The file is one JSON object of profiles, each an object of settings named as the flags:
 *
 * ```json
 * {
 *   "default": { "server": "backup.example.org:1234", "user": 77, "ca": "/home/u/cert.pem" },
 *   "work": { "server": "10.0.0.5:1234", "user": 12, "key": "/home/u/.config/backup-client/work-key" }
 * }
 * ```
 *
 * Paths are absolute. No secret is kept in it (a passphrase stays in `$BACKUP_PASSPHRASE`), but it
 * names key files, so it is written readable by its owner only.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { configFolder } from "../client/user_id.ts";
import { parseAddress, parseInteger, parseSeconds, UsageError } from "./flags.ts";
import { writePrivateJson } from "./private_json.ts";

/** The environment variable that names the profile when `--profile` does not. */
export const PROFILE_VARIABLE = "BACKUP_PROFILE";
/** The profile used when none is named, if the file has it. */
export const DEFAULT_PROFILE = "default";
/** The file's name in the config folder. */
export const PROFILES_FILE = "profiles.json";

/** A profile's settings as stored: keys named as the flags. */
export interface Profile {
  server?: string;
  user?: number;
  key?: string;
  "encryption-key"?: string;
  "repository-key-file"?: string;
  "password-file"?: string;
  ca?: string;
  tls?: boolean;
  timeout?: number;
}

/** Every profile in the file, by name. */
export type Profiles = Record<string, Profile>;

/** The settings a profile may hold, and the kind of value each takes. */
export const PROFILE_SETTINGS: Readonly<
  Record<keyof Profile, "address" | "user" | "path" | "boolean" | "seconds">
> = {
  server: "address",
  user: "user",
  key: "path",
  "encryption-key": "path",
  "repository-key-file": "path",
  "password-file": "path",
  ca: "path",
  tls: "boolean",
  timeout: "seconds",
};

/** A profiles file that cannot be used, or a profile that is not in it: a usage error (exit 2). */
export class ProfileError extends UsageError {
  /** @param message which file or profile, and what is wrong */
  constructor(message: string) {
    super(message);
  }
}

/**
 * Where the profiles are kept: `profiles.json` in the client's config folder.
 *
 * @throws {Error} if no home or config folder is known.
 */
export function profilesPath(): string {
  return `${configFolder()}/${PROFILES_FILE}`;
}

/** Whether `name` can name a profile: letters, digits, `.`, `_`, `-`, at most 64. */
export function checkProfileName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new ProfileError(
      `a profile name is letters, digits, ".", "_" and "-" (at most 64), got "${name}"`,
    );
  }
}

/**
 * Reads and checks every profile in `path`; `{}` if there is no such file.
 *
 * @throws {ProfileError} for a file that is not JSON, not an object of objects, or holds an
 *   unknown setting, a value of the wrong kind or a relative path.
 */
export async function readProfiles(path: string): Promise<Profiles> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return Object.create(null);
    throw new ProfileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ProfileError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) {
    throw new ProfileError(`${path} must hold a JSON object of profiles by name`);
  }
  // No prototype: a profile named "constructor" or "toString" is looked up as any other name.
  const profiles: Profiles = Object.create(null);
  for (const [name, settings] of Object.entries(parsed)) {
    const where = `profile "${name}" in ${path}`;
    try {
      checkProfileName(name);
    } catch (error) {
      throw new ProfileError(`${where}: ${(error as Error).message}`);
    }
    if (!isObject(settings)) throw new ProfileError(`${where} must be a JSON object of settings`);
    profiles[name] = checkProfile(settings, where);
  }
  return profiles;
}

/**
 * Checks one profile's settings: each known, of its kind (`server` HOST:PORT, `user` a whole
 * number 0..4294967295, paths absolute strings, `tls` true or false, `timeout` seconds).
 *
 * @throws {ProfileError} naming `where` and the setting.
 */
export function checkProfile(settings: Record<string, unknown>, where: string): Profile {
  for (const [key, value] of Object.entries(settings)) {
    const kind = Object.hasOwn(PROFILE_SETTINGS, key)
      ? PROFILE_SETTINGS[key as keyof Profile]
      : undefined;
    if (kind === undefined) {
      throw new ProfileError(
        `unknown setting "${key}" in ${where} (known: ${Object.keys(PROFILE_SETTINGS).join(", ")})`,
      );
    }
    const wrong = (expected: string) =>
      new ProfileError(`"${key}" in ${where} must be ${expected}, got ${JSON.stringify(value)}`);
    try {
      if (kind === "boolean" && typeof value !== "boolean") throw wrong("true or false");
      if (kind === "path" && (typeof value !== "string" || !isAbsolute(value))) {
        throw wrong("an absolute path");
      }
      if (kind === "address") {
        if (typeof value !== "string") throw wrong("HOST:PORT");
        parseAddress(key, value);
      }
      if (kind === "user") {
        if (typeof value !== "number") throw wrong("a whole number from 0 to 4294967295");
        parseInteger(key, String(value), 0, 0xffff_ffff);
      }
      if (kind === "seconds") {
        if (typeof value !== "number") throw wrong("a number of seconds");
        parseSeconds(key, String(value));
      }
    } catch (error) {
      if (error instanceof ProfileError) throw error;
      throw new ProfileError(`${where}: ${(error as Error).message}`);
    }
  }
  return settings as Profile;
}

/** Which profile a command uses, and the file it is in. */
export interface SelectedProfile {
  /** Its name; undefined when none was named and there is no `default`. */
  name?: string;
  /** Its settings (`{}` for none). */
  profile: Profile;
  /** The profiles file. */
  path?: string;
}

/**
 * The profile `named` (from `--profile`), else `$BACKUP_PROFILE`'s, else `default` if the file has
 * one, else none.
 *
 * @throws {ProfileError} for a profile named but not in the file, or a file that cannot be used.
 */
export async function selectProfile(
  named: string | undefined,
  path = tryProfilesPath(),
): Promise<SelectedProfile> {
  const name = named ?? profileFromEnvironment();
  if (name !== undefined) checkProfileName(name);
  if (path === undefined) {
    if (name === undefined) return { profile: {} };
    throw new ProfileError(
      `no profile "${name}": the client's config folder is unknown (set HOME)`,
    );
  }
  const profiles = await readProfiles(path);
  if (name === undefined) {
    const profile = profiles[DEFAULT_PROFILE];
    return profile ? { name: DEFAULT_PROFILE, profile, path } : { profile: {}, path };
  }
  const profile = profiles[name];
  if (!profile) {
    const known = Object.keys(profiles);
    throw new ProfileError(
      `no profile "${name}" in ${path} (${
        known.length ? `profiles: ${known.join(", ")}` : "none yet"
      }; see profile set)`,
    );
  }
  return { name, profile, path };
}

/** The name a profile is asked for by, from `--profile` or the environment; undefined if none. */
export function requestedProfile(named: string | undefined): string | undefined {
  return named ?? profileFromEnvironment();
}

/** The flags that a profile fills in. */
export interface ProfileFlags {
  server?: string;
  user?: string;
  key?: string;
  "encryption-key"?: string;
  "repository-key-file"?: string;
  "password-file"?: string;
  ca?: string;
  tls?: boolean;
  timeout?: string;
  v1?: boolean;
}

/**
 * The flags with the profile's settings where no flag was typed: a typed flag wins, then the
 * profile, then the built-in default. `--v1` leaves out the profile's key (v1 has none).
 */
export function applyProfile<T extends ProfileFlags>(flags: T, profile: Profile): T {
  const text = (value: number | undefined) => value === undefined ? undefined : String(value);
  return {
    ...flags,
    server: flags.server ?? profile.server,
    user: flags.user ?? text(profile.user),
    key: flags.key ?? (flags.v1 ? undefined : profile.key),
    "encryption-key": flags["encryption-key"] ?? profile["encryption-key"],
    "repository-key-file": flags["repository-key-file"] ?? profile["repository-key-file"],
    "password-file": flags["password-file"] ?? profile["password-file"],
    ca: flags.ca ?? profile.ca,
    tls: flags.tls || profile.tls || undefined,
    timeout: flags.timeout ?? text(profile.timeout),
  };
}

/** Writes every profile to `path`, whole and readable by its owner only (`writePrivateJson`). */
export function writeProfiles(path: string, profiles: Profiles): Promise<void> {
  return writePrivateJson(path, profiles);
}

/**
 * A profile's settings from typed flags, as stored: numbers for `user` and `timeout`, paths made
 * absolute against the working directory. Flags not typed are left out.
 *
 * @throws {ProfileError} for a value of the wrong kind.
 */
export function profileFromFlags(flags: ProfileFlags, where: string): Profile {
  const settings: Record<string, unknown> = {};
  if (flags.server !== undefined) settings.server = flags.server.trim();
  if (flags.user !== undefined) {
    settings.user = parseInteger("user", flags.user, 0, 0xffff_ffff);
  }
  if (flags.timeout !== undefined) settings.timeout = parseSeconds("timeout", flags.timeout) / 1000;
  const paths = ["key", "encryption-key", "repository-key-file", "password-file", "ca"] as const;
  for (const key of paths) {
    if (flags[key] !== undefined) settings[key] = resolve(flags[key]);
  }
  if (flags.tls) settings.tls = true;
  return checkProfile(settings, where);
}

/** `profilesPath()`, or undefined when no home or config folder is known. */
export function tryProfilesPath(): string | undefined {
  try {
    return profilesPath();
  } catch {
    return undefined; // no home folder: no profiles, unless one is named (then an error)
  }
}

function profileFromEnvironment(): string | undefined {
  try {
    return Deno.env.get(PROFILE_VARIABLE) || undefined;
  } catch (error) {
    // Run without leave to read it (an older permission set): the variable is as good as unset.
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
