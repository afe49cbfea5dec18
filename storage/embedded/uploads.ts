/**
 * A small upload in progress: its bytes gathered in memory and hashed with SHA-256 as they pass,
 * handed with the digest to the engine's commit (large ones: `chunked_upload.ts`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { FileMetadata, Upload } from "../storage.ts";
import { checkedDigest, expectFilled, expectRoom } from "../upload_checks.ts";
import type { Content } from "./version_rows.ts";

/** How an upload ends, given by the engine. */
export interface UploadEnds {
  /** The name, for errors. */
  fileName: string;
  /** Called once, when the upload is committed or dropped: its quota reservation ends. */
  release(): void;
  /** Makes the bytes, now in place, the name's current version, durably. */
  commit(sha256: Uint8Array, content: Content): Promise<FileMetadata>;
}

/** Ends an upload's reservation the first time it is called (returns true), never again (false). */
export function releaseOnce(ends: UploadEnds): () => boolean {
  let finished = false;
  return () => {
    if (finished) return false;
    finished = true;
    ends.release();
    return true;
  };
}

/** An upload of `size` bytes gathered in memory (the caller keeps `size` small). */
export function inlineUpload(size: number, ends: UploadEnds): Upload {
  const bytes = new Uint8Array(size);
  const hash = createHash("sha256");
  let filled = 0;
  const finish = releaseOnce(ends);
  return {
    write: (chunk) => {
      try {
        expectRoom(filled, chunk.length, size);
      } catch (error) {
        return Promise.reject(error);
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
