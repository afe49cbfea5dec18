/**
 * The bounds of a list answer this client takes: a version 1 list's declared size, and a version 2
 * list or versions answer's entries and bytes as they stream in. A server that sends a huge list,
 * or never ends one, cannot grow the client's memory, or keep it reading, without bound.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import { VERSION_INFO_SIZE } from "../protocol/v2/constants.ts";

/** The largest version 1 list this client reads (the protocol allows 4 GiB). */
export const MAX_LIST_BYTES = 256 * 1024 * 1024;

/** The most entries of one list or versions answer this client takes (a million files is fine). */
export const MAX_LIST_ENTRIES = 2 ** 21;

/**
 * Counts a list or versions answer's entries and bytes as they come, and stops it past
 * `MAX_LIST_ENTRIES` or `MAX_LIST_BYTES` (a version 1 list's bound): a server that never ends its
 * entries cannot grow the client's memory, or keep it reading, without bound. A name's characters
 * stand for its bytes (never more than them), so no answer within the bounds is refused.
 *
 * @returns a function to call with each entry's name as it arrives
 * @throws {ProtocolError} (from the returned function) once a bound is passed.
 *
 * @example
 * ```ts
 * import { listBudget } from "./list_bounds.ts";
 * const budget = listBudget();
 * for (const name of ["a.txt", "b.txt"]) budget(name); // well within the bounds
 * ```
 */
export function listBudget(): (name: string) => void {
  let bytes = 0;
  let entries = 0;
  return (name) => {
    bytes += 2 + name.length + VERSION_INFO_SIZE;
    if (++entries > MAX_LIST_ENTRIES || bytes > MAX_LIST_BYTES) {
      throw new ProtocolError(
        `the server sent more than ${
          entries > MAX_LIST_ENTRIES
            ? `${MAX_LIST_ENTRIES} entries`
            : `${MAX_LIST_BYTES} bytes of entries`
        } without ending them, more than this ` +
          `client takes`,
      );
    }
  };
}
