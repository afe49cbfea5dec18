/**
 * `profile list | show [NAME] | set NAME [flags] | unset NAME SETTING... | remove NAME`: the
 * client's named profiles (see `profiles.ts`), edited as `aws configure` and `rclone config` edit
 * theirs.
 *
 * @module
 */
import type { Output } from "./client_commands.ts";
import { UsageError } from "./flags.ts";
import { withPrivateLock } from "./private_json.ts";
import {
  checkProfileName,
  DEFAULT_PROFILE,
  type Profile,
  PROFILE_SETTINGS,
  type ProfileFlags,
  profileFromFlags,
  profilesPath,
  readProfiles,
  requestedProfile,
  writeProfiles,
} from "./profiles.ts";

/** The sub-commands of `profile`. */
export const PROFILE_ACTIONS = ["list", "show", "set", "unset", "remove"] as const;

/** Flags `profile` takes besides the settings themselves. */
const OTHER_FLAGS = ["json", "quiet", "cwd", "profile", "help"];

/**
 * Runs `profile ACTION ...`; resolves the exit code.
 *
 * @throws {UsageError} for an unknown action, a missing NAME, a flag that is not a setting;
 *   {ProfileError} for a file that cannot be used or a profile that is not in it.
 */
export async function profileCommand(
  operands: string[],
  flags: ProfileFlags & { profile?: string } & Record<string, unknown>,
  output: Output,
): Promise<number> {
  const [action, name, ...rest] = operands;
  if (!(PROFILE_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(
      `profile takes ${PROFILE_ACTIONS.join(", ")}, got ${action ? `"${action}"` : "nothing"}`,
    );
  }
  const stray = Object.keys(flags).find((flag) =>
    flags[flag] !== undefined && flags[flag] !== false && !Object.hasOwn(PROFILE_SETTINGS, flag) &&
    !OTHER_FLAGS.includes(flag)
  );
  if (stray) throw new UsageError(`--${stray} does not go with profile`);
  const typed = Object.keys(PROFILE_SETTINGS).filter((key) =>
    flags[key] !== undefined && flags[key] !== false
  );
  if (action !== "set" && typed.length > 0) {
    throw new UsageError(`--${typed[0]} goes with profile set`);
  }
  if (action !== "unset" && rest.length > 0) {
    throw new UsageError(`profile ${action} takes at most one NAME, got also "${rest[0]}"`);
  }
  const path = profilesPath();
  const current = requestedProfile(flags.profile) ?? DEFAULT_PROFILE;
  if (action === "list") {
    const names = Object.keys(await readProfiles(path));
    if (name !== undefined) throw new UsageError(`profile list takes no NAME, got "${name}"`);
    if (output.json) output.result({ op: "profile", action, current, profiles: names }, "");
    else if (names.length === 0) output.note(`no profiles in ${path} (see profile set)`);
    else console.log(names.map((n) => `${n === current ? "*" : " "} ${n}`).join("\n"));
    return 0;
  }
  const target = name ?? (action === "show" ? current : undefined);
  if (target === undefined) throw new UsageError(`profile ${action} needs a NAME`);
  checkProfileName(target);
  if (action === "show") {
    const profile = (await readProfiles(path))[target];
    if (!profile) throw new UsageError(`no profile "${target}" in ${path}`);
    if (output.json) output.result({ op: "profile", action, name: target, profile }, "");
    else console.log(describe(profile));
    return 0;
  }
  // What the flags and the file say is refused before the lock is taken (a lock file in a folder
  // the user cannot write would otherwise hide it), and the file checked again under the lock.
  if (action === "unset") {
    if (rest.length === 0) throw new UsageError("profile unset needs NAME and a SETTING or more");
    const unknown = rest.find((key) => !Object.hasOwn(PROFILE_SETTINGS, key));
    if (unknown !== undefined) {
      throw new UsageError(
        `"${unknown}" is not a setting (known: ${Object.keys(PROFILE_SETTINGS).join(", ")})`,
      );
    }
  }
  if (action === "set" && typed.length === 0) {
    throw new UsageError(
      `profile set ${target} needs a setting or more: ${
        Object.keys(PROFILE_SETTINGS).map((key) => `--${key}`).join(", ")
      }`,
    );
  }
  const settings = action === "set" ? profileFromFlags(flags, `profile "${target}"`) : {};
  const mustExist = () => new UsageError(`no profile "${target}" in ${path}`);
  if (action !== "set" && !(await readProfiles(path))[target]) throw mustExist();
  // Read, changed and written under the lock: two clients at once keep each other's change.
  return await withPrivateLock(path, async () => {
    const profiles = await readProfiles(path);
    const profile = profiles[target];
    if (action !== "set" && !profile) throw mustExist();
    if (action === "remove") delete profiles[target];
    else if (action === "unset") {
      for (const key of rest) delete profile[key as keyof Profile];
    } else profiles[target] = { ...profile, ...settings };
    await writeProfiles(path, profiles);
    if (action === "remove") {
      output.result({ op: "profile", action, name: target }, `removed profile ${target}`);
    } else {
      output.result(
        { op: "profile", action, name: target, profile: profiles[target] },
        `profile ${target} in ${path}:\n${describe(profiles[target])}`,
      );
    }
    return 0;
  });
}

/**
 * Records `settings` in the profile `name` of the file `path` (made if missing), keeping its other
 * settings: what `keygen` set up. A setting of `keepIfSet` the profile already has stays as it is,
 * decided under the lock (a `profile set` at the same moment is not undone).
 *
 * @throws {ProfileError} for a file that cannot be used.
 */
export async function recordInProfile(
  path: string,
  name: string,
  settings: Profile,
  keepIfSet: readonly (keyof Profile)[] = [],
): Promise<void> {
  checkProfileName(name);
  await withPrivateLock(path, async () => {
    const profiles = await readProfiles(path);
    const existing = profiles[name];
    const recorded = { ...settings };
    for (const key of keepIfSet) if (existing && Object.hasOwn(existing, key)) delete recorded[key];
    profiles[name] = { ...existing, ...recorded };
    await writeProfiles(path, profiles);
  });
}

/** `server = HOST:PORT` lines, in the order of the settings. */
function describe(profile: Profile): string {
  const lines = Object.keys(PROFILE_SETTINGS)
    .filter((key) => profile[key as keyof Profile] !== undefined)
    .map((key) => `  ${key} = ${profile[key as keyof Profile]}`);
  return lines.length ? lines.join("\n") : "  (no settings)";
}
