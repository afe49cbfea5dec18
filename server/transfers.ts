/**
 * Moving payloads for either protocol version: an upload from the socket into storage, a stored
 * file from storage onto the socket, each through two pooled buffers so that disk and network work
 * at the same time.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { LimitExceededError } from "../storage/errors.ts";
import { SessionRevokedError } from "./access.ts";
import type { BufferedReader } from "../io/buffered_reader.ts";
import type { BufferPool } from "../io/buffer_pool.ts";
import { headerThenPayload, readFull, relay } from "../io/relay.ts";
import { type ByteSource, lendsViews, type ViewSource } from "../io/byte_stream.ts";
import type { CommitOptions, FileMetadata, StoredFile, Upload } from "../storage/storage.ts";

/** What a transfer moves, for the reason a deadline gives: a list's bytes count as a download's. */
export type TransferKind = "payload" | "download" | "list";

/** What a transfer needs of its connection. */
export interface TransferIo {
  readonly reader: BufferedReader;
  readonly buffers: BufferPool;
  /** Writes all bytes; `armDeadline` false when the caller armed a transfer deadline itself. */
  write(bytes: Uint8Array, armDeadline?: boolean): Promise<void>;
  /**
   * Holds a small answer back to go out with the next write (or before the server next waits for
   * the client): two small writes in a row would wait for the client's delayed ACK.
   */
  defer(bytes: Uint8Array): void;
  /** Arms the deadline for the next chunk (frame timeout and minimum rate). */
  armTransfer(startedAt: number, bytesDone: number, what: TransferKind): void;
  /**
   * Checks that the session is still allowed (one comparison while no reload happened), at each
   * chunk and page of a transfer: a request under way must not outlive its revoked key by the
   * hours a slow one may last. Does nothing for version 1 or before sign-in.
   *
   * @throws {SessionRevokedError} if the session's key or account was removed.
   */
  checkSession(): void;
  /** Aborted once the connection is closed: what waits on the server's side stops waiting. */
  readonly closed: AbortSignal;
}

/** Bytes moved so far by the request, for its log line. */
export interface ByteCount {
  bytes: number;
}

/** How an upload is received. */
export interface ReceiveOptions {
  /** Payload bytes the request declared. */
  size: number;
  /** Starts the storage upload; refusals that are `LimitExceededError`s come before any payload. */
  begin: () => Promise<Upload>;
  /** Reads what follows the payload (version 2: its SHA-256); called even if storage failed. */
  afterPayload?: () => Promise<CommitOptions>;
}

/**
 * Receives an upload's payload into storage and commits it. If storage fails part-way, the rest of
 * the payload (and what follows it) is still read and dropped, so that the connection stays in
 * step; then the storage error is thrown. If the session is revoked meanwhile (checked at each
 * chunk and just before the commit), the upload is dropped and nothing more is read.
 *
 * @throws {SessionRevokedError} (the old version stays) and the connection closes.
 */
export async function receiveUpload(
  io: TransferIo,
  options: ReceiveOptions,
  record: ByteCount,
): Promise<FileMetadata> {
  const { size } = options;
  let upload: Upload | undefined;
  let storageError: unknown;
  try {
    upload = await options.begin();
  } catch (error) {
    if (error instanceof LimitExceededError) throw error; // refused before the payload
    storageError = error;
  }
  // Two buffers, the socket filling one while the disk takes the other; one if the payload fits it.
  const first = io.buffers.acquire(size);
  const scratches = size <= first.length
    ? [first] as const
    : [first, io.buffers.acquire(size)] as const;
  const startedAt = performance.now();
  let remaining = size;
  try {
    await relay(
      scratches,
      async (scratch) => {
        if (remaining === 0) return null;
        io.armTransfer(startedAt, record.bytes, "payload");
        const chunk = await io.reader.readSome(remaining, scratch, "backup payload");
        io.checkSession(); // before the chunk reaches storage
        remaining -= chunk.length;
        record.bytes += chunk.length;
        return chunk;
      },
      async (chunk) => {
        if (!upload || storageError !== undefined) return;
        try {
          await upload.write(chunk);
        } catch (error) {
          storageError = error;
          await upload.abort();
        }
      },
    );
    const commitOptions = await options.afterPayload?.();
    if (storageError !== undefined) throw storageError;
    io.checkSession(); // a key removed while the payload came must not replace the owner's file
    return await upload!.commit(commitOptions);
  } catch (error) {
    await upload?.abort();
    throw error;
  } finally {
    for (const scratch of scratches) io.buffers.release(scratch);
  }
}

/**
 * Sends a stored file: the header (`encodeHead` writes it at the start of the buffer it is given)
 * and the first bytes in one write, then the rest: from a source that lends views (chunks read
 * ahead and checked, see `ViewSource`), the views as they are, without a copy; from any other, the
 * file filling one buffer while the socket takes the other. Writes are at most a transfer buffer
 * long either way. The session is checked at each chunk: a revoked one's answer stops there.
 *
 * @throws {SessionRevokedError} if the session was revoked before any of the answer went out.
 * @throws {ConnectionLostError} if anything fails once part of the answer may be out.
 */
export async function sendStored(
  io: TransferIo,
  stored: StoredFile,
  encodeHead: (target: Uint8Array) => Uint8Array,
  record: ByteCount,
): Promise<void> {
  const size = stored.metadata.size;
  const first = io.buffers.acquire(size);
  const headLength = encodeHead(first).length;
  const source = stored.source;
  if (lendsViews(source)) {
    try {
      return await sendViews(io, { first, headLength, size, source }, record);
    } finally {
      io.buffers.release(first);
    }
  }
  const scratches = headLength + size <= first.length
    ? [first] as const
    : [first, io.buffers.acquire(size)] as const;
  const startedAt = performance.now();
  let written = 0;
  try {
    await relay(
      scratches,
      headerThenPayload(
        stored.source,
        size,
        headLength,
        (missing) => new Error(`a stored file ended ${missing} bytes early`),
      ),
      async (chunk) => {
        io.checkSession();
        io.armTransfer(startedAt, record.bytes, "download");
        await io.write(chunk, false);
        written += chunk.length;
        record.bytes = written - headLength;
      },
    );
  } catch (error) {
    // Nothing out yet: the refusal can still be answered, as for any request after revocation.
    if (written === 0 && error instanceof SessionRevokedError) throw error;
    // Part of the response may be out: the only honest thing left is to close.
    throw new ConnectionLostError("retrieve aborted", { cause: error });
  } finally {
    for (const buffer of scratches) io.buffers.release(buffer);
  }
}

/**
 * `sendStored` from a source that lends views: the header and the first bytes copied into `first`
 * (one write), then each view written as it is.
 */
async function sendViews(
  io: TransferIo,
  send: { first: Uint8Array; headLength: number; size: number; source: ViewSource & ByteSource },
  record: ByteCount,
): Promise<void> {
  const { first, headLength, size, source } = send;
  const ended = (missing: number) => new Error(`a stored file ended ${missing} bytes early`);
  const startedAt = performance.now();
  let written = 0;
  const write = async (chunk: Uint8Array) => {
    io.checkSession();
    io.armTransfer(startedAt, record.bytes, "download");
    await io.write(chunk, false);
    written += chunk.length;
    record.bytes = written - headLength;
  };
  try {
    const want = Math.min(size, first.length - headLength);
    const count = await readFull(source, first.subarray(headLength, headLength + want));
    if (count < want) throw ended(size - count);
    await write(first.subarray(0, headLength + count));
    let remaining = size - count;
    while (remaining > 0) {
      const view = await source.readView(Math.min(remaining, first.length));
      if (view === null) throw ended(remaining);
      await write(view);
      remaining -= view.length;
    }
  } catch (error) {
    if (written === 0 && error instanceof SessionRevokedError) throw error;
    throw new ConnectionLostError("retrieve aborted", { cause: error });
  }
}

/** @throws {LimitExceededError} if `size` is over the server's largest file. */
export function checkFileSize(size: number, maxFileSize: number): void {
  if (size > maxFileSize) {
    throw new LimitExceededError(`file of ${size} bytes is over the limit of ${maxFileSize}`);
  }
}

/**
 * The deadline for the next chunk of a transfer: the frame timeout without progress, or, after
 * that first grace period, sooner if the average rate falls under `minTransferRate`.
 */
export function transferDeadline(
  limits: { frameTimeoutMs: number; minTransferRate: number },
  transfer: { startedAt: number; bytesDone: number; what: TransferKind },
  now: number = performance.now(),
): { ms: number; reason: string } {
  const { frameTimeoutMs, minTransferRate } = limits;
  const { startedAt, bytesDone, what } = transfer;
  if (minTransferRate > 0) {
    const dueBy = startedAt + frameTimeoutMs + (bytesDone * 1000) / minTransferRate;
    const rateMs = dueBy - now;
    if (rateMs < frameTimeoutMs) {
      return { ms: Math.max(1, rateMs), reason: `${what} slower than ${minTransferRate} bytes/s` };
    }
  }
  return { ms: frameTimeoutMs, reason: `${what} stalled` };
}
