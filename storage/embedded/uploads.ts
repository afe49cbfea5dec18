/**
 * Uploads in progress: a small one gathers its bytes in memory, a large one streams them into a
 * new data file, flushed while they arrive; both hash them with SHA-256 as they pass, and hand the
 * digest and where the bytes are to the engine's commit.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { AdaptiveFile, DEFAULT_POLICY } from "../../io/adaptive_file.ts";
import { writeAll } from "../../io/byte_stream.ts";
import { BackgroundFlusher, type DirectorySyncs } from "../../io/durability.ts";
import type { FileMetadata, Upload } from "../storage.ts";
import { checkedDigest, expectFilled } from "../upload_checks.ts";
import type { DataFiles } from "./data_files.ts";
import type { Content } from "./version_rows.ts";

/** A large upload's data is flushed in the background after every this many bytes. */
export const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;

/** How an upload ends, given by the engine. */
export interface UploadEnds {
  /** The name, for errors. */
  fileName: string;
  /** Called once, when the upload is committed or dropped: its quota reservation ends. */
  release(): void;
  /** Makes the bytes, now in place, the name's current version, durably. */
  commit(sha256: Uint8Array, content: Content): Promise<FileMetadata>;
}

/** What a data-file upload works with. */
export interface DataFileUploadContext {
  dataFiles: DataFiles;
  directorySyncs: DirectorySyncs;
  /** Told when the file's calls turn slow and move to the thread pool. */
  countSlowDiskFile(): void;
  /** Awaited once the data file and its folder entry are durable, before the commit. */
  onDataDurable(): void | Promise<void>;
}

/** An upload of `size` bytes gathered in memory (the caller keeps `size` small). */
export function inlineUpload(size: number, ends: UploadEnds): Upload {
  const bytes = new Uint8Array(size);
  const hash = createHash("sha256");
  let filled = 0;
  let finished = false;
  const finish = () => {
    if (finished) return false;
    finished = true;
    ends.release();
    return true;
  };
  return {
    write: (chunk) => {
      if (filled + chunk.length > size) {
        return Promise.reject(new RangeError(`more than the ${size} bytes declared`));
      }
      bytes.set(chunk, filled);
      hash.update(chunk);
      filled += chunk.length;
      return Promise.resolve();
    },
    commit: async (options) => {
      if (!finish()) throw new Error("upload already finished");
      expectFilled(filled, size);
      return await ends.commit(checkedDigest(hash.digest(), options, ends.fileName), { bytes });
    },
    abort: () => Promise.resolve(void finish()),
  };
}

/**
 * An upload of `size` bytes into a new data file; the file is removed if the upload is dropped or
 * its commit fails.
 */
export function dataFileUpload(
  size: number,
  ends: UploadEnds,
  context: DataFileUploadContext,
): Upload {
  const { dataFiles } = context;
  const { name: dataFile, file } = dataFiles.create();
  const sink = new AdaptiveFile(file, DEFAULT_POLICY, context.countSlowDiskFile);
  const flusher = new BackgroundFlusher(file, FLUSH_EVERY_BYTES);
  const hash = createHash("sha256");
  let written = 0;
  let finished = false;
  const finish = async (keepFile: boolean) => {
    if (finished) return false;
    finished = true;
    ends.release();
    await flusher.settled();
    file.close();
    if (!keepFile) await dataFiles.remove([dataFile]);
    return true;
  };
  return {
    write: async (chunk) => {
      if (written + chunk.length > size) {
        throw new RangeError(`more than the ${size} bytes declared`);
      }
      hash.update(chunk);
      await writeAll(sink, chunk);
      written += chunk.length;
      flusher.wrote(chunk.length);
    },
    commit: async (options) => {
      let sha256: Uint8Array;
      try {
        expectFilled(written, size);
        sha256 = checkedDigest(hash.digest(), options, ends.fileName);
        await flusher.finish();
      } catch (error) {
        await finish(false);
        throw error;
      }
      if (!(await finish(true))) throw new Error("upload already finished");
      try {
        await context.directorySyncs.sync(dataFiles.folderOf(dataFile));
        await context.onDataDurable();
        return await ends.commit(sha256, { dataFile });
      } catch (error) {
        await dataFiles.remove([dataFile]);
        throw error;
      }
    },
    abort: async () => void await finish(false),
  };
}
