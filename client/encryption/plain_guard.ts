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

/** A sink with an optional end, as `TransferOptions["through"]` returns it. */
type EndedSink = ByteSink & { finish?(): Promise<void> };

/**
 * A sink that holds a payload's first bytes until it can tell whether they start like a sealed
 * payload of `size` bytes (see `looksSealed`), then asks `next` where this payload goes and
 * passes everything on to it; not one byte goes anywhere before that choice.
 * `next` may throw to refuse the payload.
 *
 * @example
 * ```ts
 * import { bySealing } from "./plain_guard.ts";
 * import assert from "node:assert/strict";
 * const got: number[] = [];
 * const plain = { write: (b: Uint8Array) => (got.push(...b), Promise.resolve(b.length)) };
 * const sink = bySealing(2, (sealed) => (assert.equal(sealed, false), plain));
 * await sink.write(new Uint8Array([1, 2]));
 * await sink.finish();
 * assert.deepEqual(got, [1, 2]);
 * ```
 */
export function bySealing(
  size: number | undefined,
  next: (sealed: boolean) => EndedSink,
): ByteSink & { finish(): Promise<void> } {
  const start = new Uint8Array(MAGIC.length);
  let held = 0;
  let target: EndedSink | undefined;
  const choose = async () => {
    target = next(looksSealed(start.subarray(0, held), size));
    await writeAll(target, start.subarray(0, held));
    return target;
  };
  return {
    async write(bytes) {
      if (target) {
        await writeAll(target, bytes);
        return bytes.length;
      }
      const take = Math.min(start.length - held, bytes.length);
      start.set(bytes.subarray(0, take), held);
      held += take;
      if (held < start.length) return bytes.length;
      await writeAll(await choose(), bytes.subarray(take));
      return bytes.length;
    },
    async finish() {
      await (target ?? await choose()).finish?.();
    },
  };
}

/**
 * A sink that passes bytes on to `sink` unless they start like a sealed payload (see
 * `looksSealed`): the first bytes are held until there are enough to tell, so that not one byte
 * of ciphertext reaches `sink`. `finish` passes on what a payload shorter than that held back.
 * With `asStored` (restore --force), a payload that looks sealed is passed on all the same, and
 * `asStored` is told (a plain file may start with "BKE1" and have a size a sealed one can have).
 *
 * @throws {SealedWithoutKeyError} (from `write`) for a sealed payload, unless `asStored`.
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
  asStored?: () => void,
): ByteSink & { finish(): Promise<void> } {
  return bySealing(payload.size, (sealed) => {
    if (!sealed) return sink;
    if (asStored) {
      asStored();
      return sink;
    }
    throw new SealedWithoutKeyError(
      `${payload.name} was sealed (backup --encrypt): restore it with --encrypt and the key ` +
        `it was sealed with (or --force to write its stored bytes as they are); its sealed bytes ` +
        `were not written`,
    );
  });
}
