/**
 * The raw file write the limits use: bytes from a source into a new file with 1 MiB synchronous
 * writes (the page cache takes them at memory speed). Durably: an `fdatasync` started in the
 * background after every 64 MiB so that the disk writes while bytes still arrive, and a final
 * `fdatasync` — measured here as the fastest of the plain ways to stream bytes durably to a file from
 * Deno (writing everything and flushing once at the end leaves the whole flush for last). Not durably:
 * no flush at all, what a restore to a file does (like `cp`).
 *
 * @module
 */

const CHUNK = 1024 * 1024;
const FLUSH_EVERY = 64 * CHUNK;

/** Streams `source` to a new file at `path`; if `durable`, resolves once every byte is on disk. */
export async function writeToFile(
  path: string,
  source: { read(buffer: Uint8Array): Promise<number | null> },
  durable: boolean,
): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const buffer = new Uint8Array(CHUNK);
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  while (true) {
    const count = await source.read(buffer);
    if (count === null) break;
    for (let offset = 0; offset < count;) offset += file.writeSync(buffer.subarray(offset, count));
    unflushed += count;
    if (durable && unflushed >= FLUSH_EVERY && !flushing) {
      unflushed = 0;
      flushing = file.syncData().finally(() => flushing = undefined);
    }
  }
  await flushing;
  if (durable) await file.syncData();
}
