/**
 * `check`'s own flags and what they choose, apart from the command itself: the command line's
 * parser needs them for every command, and `check` itself (`snapshot_check.ts`) only for `check`.
 *
 * @module
 */
import { subsetOf, SubsetSpecError } from "../client/snapshot/check_ids.ts";
import { UsageError } from "./flags.ts";

/** `check`'s own flags, for the command line's parser (`--host`, `--tag`, `--path` are shared). */
export const CHECK_FLAGS = {
  "read-data": { type: "boolean" },
  "read-data-subset": { type: "string" },
} as const;

/** The names of `CHECK_FLAGS`: they go with `check` only. */
export const CHECK_FLAG_NAMES: string[] = Object.keys(CHECK_FLAGS);

/** The flags `check` reads besides the shared ones. */
export interface CheckFlags {
  "read-data"?: boolean;
  "read-data-subset"?: string;
}

/**
 * Which data blobs the flags ask to read: none, all, or a subset.
 *
 * @throws {UsageError} for both flags at once, or a subset that is neither `n/t` nor `N%`.
 */
export function readDataChoice(flags: CheckFlags): ((id: string) => boolean) | undefined {
  const subset = flags["read-data-subset"];
  if (flags["read-data"] && subset !== undefined) {
    throw new UsageError("--read-data reads every blob; --read-data-subset a part: give one");
  }
  if (flags["read-data"]) return () => true;
  if (subset === undefined) return undefined;
  try {
    return subsetOf(subset);
  } catch (error) {
    if (error instanceof SubsetSpecError) throw new UsageError(error.message);
    throw error;
  }
}
