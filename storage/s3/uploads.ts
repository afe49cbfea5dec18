/**
 * Uploads to the object store: a file up to one part is gathered in memory and stored with one PUT
 * at commit, as one zstd frame when that pays (`encodeBlob`), else as it is; a larger one goes up as a multipart upload of a data object while it arrives (a few
 * parts in flight), completed at commit or aborted. Both hash with SHA-256 as bytes pass. Memory
 * for all of them together is held to a budget.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { CommitOptions, FileMetadata, Upload } from "../storage.ts";
import { checkedDigest, expectFilled, expectRoom } from "../upload_checks.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { encodeBlob } from "../../repository/blob_codec.ts";

/** Bytes of upload buffers all uploads may hold at once; an upload waits for its share. */
export class MemoryBudget {
  #free: number;
  readonly #waiting: { bytes: number; resolve: () => void }[] = [];

  /** A budget of `bytes`. */
  constructor(bytes: number) {
    this.#free = bytes;
  }

  /** Resolves once `bytes` are held (in the order asked). */
  acquire(bytes: number): Promise<void> {
    if (this.#waiting.length === 0 && bytes <= this.#free) {
      this.#free -= bytes;
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push({ bytes, resolve });
    return promise;
  }

  /** Gives `bytes` back. */
  release(bytes: number): void {
    this.#free += bytes;
    while (this.#waiting.length > 0 && this.#waiting[0].bytes <= this.#free) {
      const next = this.#waiting.shift()!;
      this.#free -= next.bytes;
      next.resolve();
    }
  }
}

/**
 * Where an upload's bytes went, for the commit: the record's body (with `zstd` when the body is
 * one zstd frame of the file's `size` bytes; with `chunks` when it is the chunk list of the file's
 * `size` bytes, whose new chunks took `packBytes` in packs), or a data object.
 */
export type StoredBytes =
  | {
    body: Uint8Array;
    zstd?: { size: number };
    chunks?: { size: number; packBytes: number };
    /**
     * The time to sign the record PUT with (a chunked upload's pin, W3 of
     * docs/s3_repository_plan.md §3.2); called right before the PUT. @default now
     */
    signRecordAt?: () => Promise<number>;
  }
  | { data: { size: number; dataId: string; key: string } };

/** What an upload works with, given by the engine. */
export interface S3UploadContext {
  client: S3Client;
  fileName: string;
  size: number;
  /** Files up to this size are one PUT; larger ones go up in parts of this size. */
  partSize: number;
  partsInFlight: number;
  budget: MemoryBudget;
  /** A new data object's id and key. */
  newData(): { dataId: string; key: string };
  /** Stores the record that makes the bytes the current version. */
  commit(sha256: Uint8Array, stored: StoredBytes): Promise<FileMetadata>;
  /** Called once, when the upload is committed or dropped. */
  release(): void;
}

/** Starts an upload; resolves once its first buffer is held. */
export async function s3Upload(ctx: S3UploadContext): Promise<Upload> {
  const multipart = ctx.size > ctx.partSize;
  const bufferSize = multipart ? ctx.partSize : ctx.size;
  await ctx.budget.acquire(bufferSize);
  let buffer: Uint8Array = new Uint8Array(bufferSize);
  let held = bufferSize;
  let filled = 0;
  let received = 0;
  let placed = 0; // bytes copied into part buffers: a chunk may span parts
  let finished = false;
  const hash = createHash("sha256");
  const data = multipart ? ctx.newData() : undefined;
  let uploadId: Promise<string> | undefined;
  const etags: Promise<string>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const spare: Uint8Array[] = [];
  let failure: unknown;

  const sendPart = async (bytes: Uint8Array) => {
    uploadId ??= ctx.client.startMultipart(data!.key);
    const partNumber = etags.length + 1;
    const etag = uploadId.then((id) => ctx.client.uploadPart(data!.key, id, partNumber, bytes));
    etags.push(etag);
    const done = etag.then(() => {}, (error) => void (failure ??= error))
      .finally(() => {
        inFlight.delete(done);
        ctx.budget.release(bytes.length);
        held -= bytes.length;
        // The store has answered: the request has its body no more, and the next part may reuse it.
        if (bytes.length === ctx.partSize) spare.push(bytes);
      });
    inFlight.add(done);
    while (inFlight.size >= ctx.partsInFlight) await Promise.race(inFlight);
  };
  const nextBuffer = async () => {
    const size = Math.min(ctx.partSize, ctx.size - placed);
    await ctx.budget.acquire(size);
    held += size;
    buffer = (size === ctx.partSize ? spare.pop() : undefined) ?? new Uint8Array(size);
    filled = 0;
  };
  const finish = async (completed: boolean) => {
    if (finished) return false;
    finished = true;
    await Promise.allSettled(inFlight);
    ctx.budget.release(held);
    held = 0;
    if (!completed && uploadId) {
      await uploadId.then((id) => ctx.client.abortMultipart(data!.key, id)).catch(() => {});
    }
    ctx.release();
    return true;
  };

  return {
    async write(chunk: Uint8Array) {
      if (failure) throw failure;
      expectRoom(received, chunk.length, ctx.size);
      hash.update(chunk);
      received += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const count = Math.min(chunk.length - offset, buffer.length - filled);
        buffer.set(chunk.subarray(offset, offset + count), filled);
        filled += count;
        offset += count;
        placed += count;
        if (multipart && filled === buffer.length) {
          await sendPart(buffer);
          if (placed < ctx.size) await nextBuffer();
        }
      }
    },
    async commit(options?: CommitOptions) {
      if (finished) throw new Error("upload already finished");
      let completed = false;
      try {
        expectFilled(received, ctx.size);
        const sha256 = checkedDigest(hash.digest(), options, ctx.fileName);
        if (!multipart) {
          const metadata = await ctx.commit(sha256, recordBody(buffer));
          completed = true;
          return metadata;
        }
        await Promise.allSettled(inFlight);
        if (failure) throw failure;
        const id = await uploadId!;
        await ctx.client.completeMultipart(data!.key, id, await Promise.all(etags));
        completed = true; // the data object exists: a failed commit removes it
        try {
          return await ctx.commit(sha256, { data: { ...data!, size: ctx.size } });
        } catch (error) {
          await ctx.client.delete(data!.key).catch(() => {});
          throw error;
        }
      } finally {
        await finish(completed);
      }
    },
    async abort() {
      await finish(false);
    },
  };
}

/** The body of a file stored in its record: one zstd frame if that pays, else the bytes as they are. */
export function recordBody(bytes: Uint8Array): StoredBytes {
  const { stored, compression } = encodeBlob(bytes);
  return compression === "zstd" ? { body: stored, zstd: { size: bytes.length } } : { body: bytes };
}
