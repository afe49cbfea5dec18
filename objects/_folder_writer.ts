/**
 * The durable write behind `FolderStore.put` and `FolderStore.create`: the bytes go into a temp
 * file in the object's folder as they come; `commit` fsyncs it, renames it over the name and fsyncs
 * the folders it touched; `abort` (or a failed commit) removes the temp file, or leaves it for
 * `sweep`.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { writeAll } from "../io/byte_stream.ts";
import type { DirectorySyncs } from "../io/durability.ts";
import {
  expectSourceEnd,
  type ObjectBody,
  ObjectNameConflictError,
  ObjectSizeMismatchError,
  type ObjectWriter,
} from "./object_store.ts";
import { lstatOrUndefined, TEMP_PREFIX, unsafe } from "./_folder_walk.ts";

/** Bytes copied from a source to a file at a time: one buffer per `put` from a source. */
const COPY_BUFFER_BYTES = 256 * 1024;
/** Random bytes in a temp file's name. */
const TEMP_RANDOM_BYTES = 16;

/** Where a temp-file writer writes. */
export interface TempWriterOptions {
  /** The object's name (for errors). */
  name: string;
  /** The object's folder, made already. */
  dir: string;
  /** The object's path, renamed over at `commit`. */
  target: string;
  /** The folders that got a new entry when the object's folders were made (fsynced at `commit`). */
  madeIn: string[];
  /** The store's folder syncs. */
  syncs: DirectorySyncs;
}

/** Opens a temp file next to `target` and returns its writer; see the module comment. */
export async function openTempWriter(options: TempWriterOptions): Promise<ObjectWriter> {
  const { name, dir, target, madeIn, syncs } = options;
  const temp = `${dir}/${TEMP_PREFIX}${
    toHex(crypto.getRandomValues(new Uint8Array(TEMP_RANDOM_BYTES)))
  }`;
  // createNew: fails on anything already there, a link included.
  const file = await Deno.open(temp, { write: true, createNew: true });
  let ended = false;
  const drop = async () => {
    file.close();
    await Deno.remove(temp).catch(() => {
      // left for `sweep`: a temp file is never listed
    });
  };
  return {
    write: (bytes) => writeAll(file, bytes),
    commit: async () => {
      if (ended) throw new Error(`${name}: the writer has ended`);
      ended = true;
      try {
        await file.syncData();
        const info = await lstatOrUndefined(target);
        if (info?.isDirectory) {
          throw new ObjectNameConflictError(name, "it is a folder of other objects");
        }
        if (info && !info.isFile) throw unsafe(target, info);
        await Deno.rename(temp, target);
      } catch (error) {
        await drop();
        throw error;
      }
      file.close();
      await Promise.all([dir, ...madeIn].map((folder) => syncs.sync(folder)));
    },
    abort: async () => {
      if (ended) return;
      ended = true;
      await drop();
    },
  };
}

/** Writes a body to `writer`: all of its bytes, or exactly the source's declared size. */
export async function writeBody(
  writer: ObjectWriter,
  name: string,
  body: ObjectBody,
): Promise<void> {
  if (body instanceof Uint8Array) {
    await writer.write(body);
    return;
  }
  const { source, size } = body;
  const buffer = new Uint8Array(Math.max(1, Math.min(size, COPY_BUFFER_BYTES)));
  let written = 0;
  while (written < size) {
    const count = await source.read(buffer.subarray(0, Math.min(buffer.length, size - written)));
    if (count === null) throw new ObjectSizeMismatchError(name, size, written);
    await writer.write(buffer.subarray(0, count));
    written += count;
  }
  await expectSourceEnd(source, name, size);
}
