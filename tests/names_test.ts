import assert from "node:assert/strict";
import { encodeName, InvalidNameError, validateName } from "../protocol/mod.ts";
import { utf8 } from "./_helpers.ts";
import { HOSTILE_NAMES } from "./_hostile_names.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("names the protocol refuses throw InvalidNameError", () => {
  assert.equal(HOSTILE_NAMES.at(-1)![1].length, 1025);
  for (const [label, bytes] of HOSTILE_NAMES) {
    assert.throws(() => validateName(bytes), InvalidNameError, label);
  }
});

Deno.test("names at the limits and unusual but valid names pass unchanged", () => {
  const valid = [
    "a",
    "a".repeat(255),
    ("a".repeat(254) + "/").repeat(4) + "a".repeat(4), // 1024 bytes
    "photos/2024/IMG 0001.JPG",
    ".hidden",
    "...",
    "..a",
    "Ünïcödé/名前/😀.txt",
    "e\u0301", // not normalised
    "CASE/case",
  ];
  for (const name of valid) assert.equal(validateName(utf8(name)), name, name);
  assert.equal(utf8(valid[2]).length, 1024);
});

Deno.test("the client refuses a lone surrogate instead of sending U+FFFD", () => {
  assert.throws(() => encodeName("a\uD800b"), InvalidNameError);
});
