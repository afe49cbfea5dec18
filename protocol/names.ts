import { MAX_COMPONENT_BYTES, MAX_NAME_BYTES } from "./constants.ts";
import { InvalidNameError } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DEL = 0x7f;
const LAST_CONTROL = 0x1f;

/**
 * Checks a file name's bytes against the protocol's rules and returns it as a string.
 *
 * A name is a relative UTF-8 path of 1..1024 bytes, components of 1..255 bytes separated by `/`; it
 * may not contain `.` or `..` components, empty components, a backslash, or control bytes.
 *
 * @throws {InvalidNameError} when any rule is broken.
 * @example
 * ```ts
 * import { validateName } from "./names.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(validateName(new TextEncoder().encode("photos/2024/a.jpg")), "photos/2024/a.jpg");
 * ```
 */
export function validateName(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new InvalidNameError("empty");
  if (bytes.length > MAX_NAME_BYTES) {
    throw new InvalidNameError(`${bytes.length} bytes, at most ${MAX_NAME_BYTES} allowed`);
  }
  let componentStart = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const byte = i < bytes.length ? bytes[i] : SLASH;
    if (byte === SLASH) {
      checkComponent(bytes, componentStart, i);
      componentStart = i + 1;
    } else if (byte <= LAST_CONTROL || byte === DEL) {
      throw new InvalidNameError(`control byte 0x${byte.toString(16).padStart(2, "0")}`);
    } else if (byte === BACKSLASH) {
      throw new InvalidNameError("backslash");
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new InvalidNameError("not valid UTF-8");
  }
}

/** Encodes a name to bytes and checks it, for callers that hold a string (the client). */
export function encodeName(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  // A lone surrogate encodes to U+FFFD: the name sent would not be the name given.
  if (!name.isWellFormed()) throw new InvalidNameError("not valid Unicode");
  validateName(bytes);
  return bytes;
}

function checkComponent(bytes: Uint8Array, start: number, end: number): void {
  const length = end - start;
  if (length === 0) throw new InvalidNameError("empty path component");
  if (length > MAX_COMPONENT_BYTES) {
    throw new InvalidNameError(
      `path component of ${length} bytes, at most ${MAX_COMPONENT_BYTES} allowed`,
    );
  }
  const DOT = 0x2e;
  if (bytes[start] === DOT && (length === 1 || (length === 2 && bytes[start + 1] === DOT))) {
    throw new InvalidNameError(`path component "${length === 1 ? "." : ".."}"`);
  }
}
