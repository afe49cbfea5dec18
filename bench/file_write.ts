/**
 * The raw file write the limits use: bytes from a source into a new file with 1 MiB synchronous
 * writes (the page cache takes them at memory speed), the next read already asked for while a chunk
 * is written. Durably: an `fdatasync` started in the background after every `FLUSH_EVERY_BYTES` so that the disk writes while bytes still arrive, and a final `fdatasync`.
 * Not durably: no flush at all, what a restore to a file does (like `cp`). The same tricks as the
 * server's, so that the limit is the best plain way to do the same work.
 *
 * @module
 */
import { createHash } from "node:crypto";

const CHUNK = 1024 * 1024;
/** Bytes written between background `fdatasync`s. */
const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Streams `source` to a new file at `path`; if `durable`, resolves once every byte is on disk; if
 * `sha256`, hashes the bytes as they pass (the server's work for every upload).
 */
export async function writeToFile(
  path: string,
  source: { read(buffer: Uint8Array): Promise<number | null> },
  durable: boolean,
  sha256 = false,
): Promise<void> {
  const hash = sha256 ? createHash("sha256") : undefined;
  using file = await Deno.open(path, { write: true, createNew: true });
  let buffer = new Uint8Array(CHUNK);
  let spare = new Uint8Array(CHUNK);
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  let reading = source.read(buffer);
  while (true) {
    const count = await reading;
    if (count === null) break;
    const filled = buffer;
    [buffer, spare] = [spare, buffer];
    reading = source.read(buffer);
    hash?.update(filled.subarray(0, count));
    for (let offset = 0; offset < count;) offset += file.writeSync(filled.subarray(offset, count));
    unflushed += count;
    if (durable && unflushed >= FLUSH_EVERY_BYTES && !flushing) {
      unflushed = 0;
      flushing = file.syncData().finally(() => flushing = undefined);
    }
  }
  await flushing;
  if (durable) await file.syncData();
  hash?.digest();
}
