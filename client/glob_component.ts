/**
 * One path component of a restic-style glob as a regular expression's source: `*` any characters
 * within the component, `?` one character, `[abc]` a class (`[!abc]` its complement), `\` escapes
 * the next character; everything else stands for itself. `restore --include/--exclude` and `find`
 * share it.
 *
 * @example
 * ```ts
 * import { globComponentSource } from "./glob_component.ts";
 * import assert from "node:assert/strict";
 * const re = new RegExp(`^${globComponentSource("a?[!x].txt")}$`, "u");
 * assert.ok(re.test("abc.txt"));
 * assert.ok(!re.test("abx.txt"));
 * assert.ok(!re.test("a/c.txt"));
 * ```
 *
 * @module
 */

/** See the module comment. */
export function globComponentSource(part: string): string {
  let source = "";
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    if (c === "\\" && i + 1 < part.length) source += escape(part[++i]);
    else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const end = part.indexOf("]", i + 2);
      if (end < 0) source += "\\[";
      else {
        const body = part.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = end;
      }
    } else source += escape(c);
  }
  return source;
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
