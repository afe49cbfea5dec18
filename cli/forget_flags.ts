/**
 * `forget`'s own flags, apart from the command itself: the command line's parser needs them for
 * every command, and `forget` itself (`snapshot_forget.ts`) only for `forget`.
 *
 * @module
 */

/** `forget`'s own flags, for the command line's parser (`--host`, `--tag`, `--path` are shared). */
export const FORGET_FLAGS = {
  "keep-last": { type: "string" },
  "keep-hourly": { type: "string" },
  "keep-daily": { type: "string" },
  "keep-weekly": { type: "string" },
  "keep-monthly": { type: "string" },
  "keep-yearly": { type: "string" },
  "keep-within": { type: "string" },
  "keep-within-hourly": { type: "string" },
  "keep-within-daily": { type: "string" },
  "keep-within-weekly": { type: "string" },
  "keep-within-monthly": { type: "string" },
  "keep-within-yearly": { type: "string" },
  "keep-tag": { type: "string", multiple: true },
  "group-by": { type: "string" },
  prune: { type: "boolean" },
} as const;

/** The names of `FORGET_FLAGS`: they go with `forget` only. */
export const FORGET_FLAG_NAMES: string[] = Object.keys(FORGET_FLAGS);
