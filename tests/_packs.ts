/**
 * Where a root's chunks are, read straight from its index, for tests that damage packs on disk.
 *
 * @module
 */
import { REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";

export { type ChunkPlace, chunksOf } from "../harness/stored.ts";

/** The pack files under a root, sorted. */
export async function packFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const packs = `${root}/${REPOSITORY_DIR_NAME}/packs`;
  for await (const shard of Deno.readDir(packs)) {
    for await (const file of Deno.readDir(`${packs}/${shard.name}`)) {
      if (!file.name.startsWith(".")) found.push(`${packs}/${shard.name}/${file.name}`);
    }
  }
  return found.sort();
}

/** Flips every bit of the byte at `offset` of a file, in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  using file = await Deno.open(path, { read: true, write: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const byte = new Uint8Array(1);
  if (await file.read(byte) !== 1) throw new Error(`${path} has no byte at ${offset}`);
  byte[0] ^= 0xff;
  await file.seek(offset, Deno.SeekMode.Start);
  await file.write(byte);
}

/** Random bytes (incompressible: stored as they are), any size. */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const MAX_RANDOM = 65536; // what getRandomValues fills at once
  for (let at = 0; at < size; at += MAX_RANDOM) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + MAX_RANDOM)));
  }
  return bytes;
}
