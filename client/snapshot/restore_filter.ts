/**
 * Which entries of a snapshot a restore writes: restic's `--include` and `--exclude` globs,
 * matched against an entry's path in the snapshot, component by component.
 *
 * - `*` matches any characters within one component, `?` one character, `[abc]` a class (`[!abc]`
 *   its complement), `**` any number of whole components (none included); `\` escapes the next
 *   character.
 * - A pattern that starts with `/` is anchored at the snapshot's root; any other may match from any
 *   folder down (as if it started with `**`).
 * - A pattern that matches a folder matches everything beneath it.
 * - An entry is skipped when an exclude pattern matches it; with include patterns, an entry is
 *   restored only when one matches it, and a folder that could hold a match is looked into
 *   ("descend": the restorer makes it, with its metadata, only if something in it is restored).
 *
 * @module
 */
import { globComponentSource } from "../glob_component.ts";

/** What to do with one entry. */
export type Selection = "restore" | "descend" | "skip";

/** Include and exclude globs, compiled once. */
export interface PathFilterOptions {
  include?: string[];
  exclude?: string[];
}

type Pattern = Array<RegExp | "**">;

/**
 * A compiled filter.
 *
 * @example
 * ```ts
 * import { PathFilter } from "./restore_filter.ts";
 * import assert from "node:assert/strict";
 * const filter = new PathFilter({ include: ["/home/u/.ssh"], exclude: ["*.tmp"] });
 * assert.equal(filter.select(["home", "u", ".ssh", "id"], false), "restore");
 * assert.equal(filter.select(["home", "u"], true), "descend");
 * assert.equal(filter.select(["home", "u", ".ssh", "x.tmp"], false), "skip");
 * assert.equal(filter.select(["etc"], true), "skip");
 * ```
 */
export class PathFilter {
  readonly #include: Pattern[];
  readonly #exclude: Pattern[];

  /** @throws {SyntaxError} for an empty pattern. */
  constructor(options: PathFilterOptions = {}) {
    this.#include = (options.include ?? []).map(compile);
    this.#exclude = (options.exclude ?? []).map(compile);
  }

  /** What to do with the entry at `path` (its components from the snapshot's root). */
  select(path: string[], isDir: boolean): Selection {
    if (this.#exclude.some((p) => matches(p, path, 0, 0))) return "skip";
    if (this.#include.length === 0) return "restore";
    if (this.#include.some((p) => matches(p, path, 0, 0))) return "restore";
    if (isDir && this.#include.some((p) => couldMatchBelow(p, path, 0, 0))) return "descend";
    return "skip";
  }
}

function compile(glob: string): Pattern {
  const anchored = glob.startsWith("/");
  const parts = glob.split("/").filter((part) => part !== "");
  if (parts.length === 0) throw new SyntaxError(`${JSON.stringify(glob)} is not a pattern`);
  const pattern: Pattern = parts.map((part) => part === "**" ? "**" : componentRegExp(part));
  return anchored ? pattern : ["**", ...pattern];
}

function componentRegExp(part: string): RegExp {
  return new RegExp(`^${globComponentSource(part)}$`, "u");
}

/** Whether `pattern[i..]` matches `path[j..]` or an ancestor of it (a prefix of its components). */
function matches(pattern: Pattern, path: string[], i: number, j: number): boolean {
  if (i === pattern.length) return true;
  const part = pattern[i];
  if (part === "**") {
    return matches(pattern, path, i + 1, j) ||
      (j < path.length && matches(pattern, path, i, j + 1));
  }
  return j < path.length && part.test(path[j]) && matches(pattern, path, i + 1, j + 1);
}

/** Whether something beneath the folder `path` could match `pattern`. */
function couldMatchBelow(pattern: Pattern, path: string[], i: number, j: number): boolean {
  if (j === path.length || i === pattern.length) return true;
  const part = pattern[i];
  if (part === "**") return true;
  return part.test(path[j]) && couldMatchBelow(pattern, path, i + 1, j + 1);
}
