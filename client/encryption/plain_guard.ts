/**
 * Restoring without the key: a payload this client sealed (`backup --encrypt`) is refused, never
 * written out as if its ciphertext were the file.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { type ByteSink, writeAll } from "../../io/byte_stream.ts";
import { looksSealed, MAGIC } from "./format.ts";

/** A sealed payload met without the key (no `--encrypt`). */
export class SealedWithoutKeyError extends BackupError {}

/**
 * A sink that passes bytes on to `sink` unless they start like a sealed payload (see
 * `looksSealed`): the first bytes are held until there are enough to tell, so that not one byte
 * of ciphertext reaches `sink`. `finish` passes on what a payload shorter than that held back.
 *
 * @throws {SealedWithoutKeyError} (from `write`) for a sealed payload.
 * @example
 * ```ts
 * import { refusingSealed } from "./plain_guard.ts";
 * import assert from "node:assert/strict";
 * const got: number[] = [];
 * const guard = refusingSealed({ write: (b) => (got.push(...b), Promise.resolve(b.length)) }, {
 *   name: "a.txt",
 * });
 * await guard.write(new TextEncoder().encode("BK"));
 * await assert.rejects(guard.write(new TextEncoder().encode("E1...")));
 * assert.deepEqual(got, []);
 * ```
 */
export function refusingSealed(
  sink: ByteSink,
  payload: { name: string; size?: number },
): ByteSink & { finish(): Promise<void> } {
  const start = new Uint8Array(MAGIC.length);
  let held = 0;
  let checked = false;
  return {
    async write(bytes) {
      if (checked) {
        await writeAll(sink, bytes);
        return bytes.length;
      }
      const take = Math.min(start.length - held, bytes.length);
      start.set(bytes.subarray(0, take), held);
      held += take;
      if (held < start.length) return bytes.length;
      if (looksSealed(start, payload.size)) {
        throw new SealedWithoutKeyError(
          `${payload.name} was sealed (backup --encrypt): restore it with --encrypt and the key ` +
            `it was sealed with; its sealed bytes were not written`,
        );
      }
      checked = true;
      await writeAll(sink, start);
      await writeAll(sink, bytes.subarray(take));
      return bytes.length;
    },
    async finish() {
      if (!checked) await writeAll(sink, start.subarray(0, held));
      checked = true;
    },
  };
}
