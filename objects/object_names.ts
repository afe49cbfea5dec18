/**
 * The names of a store's objects: ASCII strings of segments joined by `/`; each segment is made of
 * `a-z`, `0-9`, `_`, `-` and `.`, and does not start with `.` (so no empty segment, no `.` or `..`,
 * no hidden file); a name is at most {@linkcode MAX_OBJECT_NAME_BYTES} bytes. Since names are ASCII,
 * JavaScript's string order is their byte order, the order `list` yields them in. Every store
 * (`object_store.ts`) checks names and listing prefixes here before any I/O. Pure: no I/O.
 *
 * @example
 * ```ts
 * import { checkObjectName } from "./object_names.ts";
 * import { InvalidObjectNameError } from "./object_store.ts";
 * import assert from "node:assert/strict";
 *
 * checkObjectName("packs/3f/3f0a9c.pack");
 * assert.throws(() => checkObjectName("packs/../secret"), InvalidObjectNameError);
 * assert.throws(() => checkObjectName("Packs/a"), InvalidObjectNameError);
 * ```
 *
 * @module
 */
import { InvalidObjectNameError } from "./object_store.ts";

/**
 * The longest name, in bytes: one file name on common file systems (so that every segment fits
 * one), and far below S3's 1,024-byte keys (so that a store may put a prefix before it).
 */
export const MAX_OBJECT_NAME_BYTES = 255;

/** One segment of a name: the alphabet, and no `.` first. */
const SEGMENT = "[a-z0-9_-][a-z0-9_.-]*";
const NAME_PATTERN = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);
/** A prefix: whole segments each followed by `/`, then the start of one more (possibly empty). */
const PREFIX_PATTERN = new RegExp(`^(?:${SEGMENT}/)*[a-z0-9_.-]*$`);

/**
 * Checks an object name (see the module comment for the rules). Pure: no I/O.
 *
 * @example
 * ```ts
 * import { checkObjectName } from "./object_names.ts";
 * import assert from "node:assert/strict";
 *
 * checkObjectName("index/0001");
 * assert.throws(() => checkObjectName("index//0001"));
 * ```
 *
 * @throws {InvalidObjectNameError} if it breaks a rule.
 */
export function checkObjectName(name: string): void {
  checkLength(name);
  if (NAME_PATTERN.test(name)) return;
  throw new InvalidObjectNameError(name, reasonOf(name));
}

/**
 * Checks a listing prefix: whole valid segments, each followed by `/`, then the start of a segment
 * (possibly empty). `""` lists everything.
 *
 * @example
 * ```ts
 * import { checkObjectPrefix } from "./object_names.ts";
 * import assert from "node:assert/strict";
 *
 * checkObjectPrefix("packs/3");
 * assert.throws(() => checkObjectPrefix("../"));
 * ```
 *
 * @throws {InvalidObjectNameError} if no valid name could start with it.
 */
export function checkObjectPrefix(prefix: string): void {
  checkLength(prefix);
  if (PREFIX_PATTERN.test(prefix)) return;
  throw new InvalidObjectNameError(prefix, `not a prefix of a valid name: ${reasonOf(prefix)}`);
}

function checkLength(name: string): void {
  if (typeof name !== "string") {
    throw new InvalidObjectNameError(String(name), `expected a string, got ${typeof name}`);
  }
  // Only ASCII is valid, so a longer string is too long in bytes as well.
  if (name.length > MAX_OBJECT_NAME_BYTES) {
    throw new InvalidObjectNameError(
      name,
      `at most ${MAX_OBJECT_NAME_BYTES} bytes, got ${name.length} characters`,
    );
  }
}

function reasonOf(name: string): string {
  if (name === "") return "it is empty";
  const bad = /[^a-z0-9_./-]/.exec(name);
  if (bad) return `character ${JSON.stringify(bad[0])} is outside [a-z0-9_./-]`;
  const segments = name.split("/");
  if (segments.some((segment) => segment === "")) return "it has an empty segment";
  return "a segment starts with '.'";
}
