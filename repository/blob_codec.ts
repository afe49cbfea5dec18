/**
 * A blob's stored bytes: its raw bytes compressed with zstd (`node:zlib`) when that pays, else the
 * raw bytes as they are. Pure: no `Deno.*`, no I/O.
 *
 * The rules, measured with `deno run bench/zstd.ts` (figures in `docs/repository.md`):
 * - zstd at level {@linkcode ZSTD_LEVEL}, keeping the frame only if it is under
 *   {@linkcode PAYS_RATIO} of the raw size: saving 3% or less is not worth a decode on every read.
 * - Above {@linkcode SAMPLE_FROM_BYTES}, a sample (4 pieces of 16 KiB spread over the blob) is
 *   looked at first; if it does not pay, neither would the whole, and the blob is stored raw
 *   without compressing the rest. Random, encrypted or already compressed chunks cost a sample
 *   (about 64 KiB of work) instead of a full pass. The sample's bytes are counted first: at
 *   {@linkcode NOISE_BITS_PER_BYTE} or more of entropy, no coding of single bytes (zstd's
 *   literals) could pay, and it is taken for noise without zstd (whose every call leaves its
 *   buffers to the collector: tens of MiB held during a large upload of random bytes); below,
 *   it is compressed at level 1 and pays or not. From 1 KiB up to the sampling size, up to 4 KiB
 *   of the blob (pieces spread over it) are counted the same way before any zstd call, the count
 *   corrected for its size.
 * - A stored frame is exactly one zstd frame that declares its content size, with no dictionary and
 *   nothing after it. The decoder checks this outline before zstd runs, and gives zstd an output
 *   bound of the raw length, so that a hostile frame never makes it allocate more than that.
 *
 * @example
 * ```ts
 * import { decodeBlob, encodeBlob } from "./blob_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const raw = new TextEncoder().encode("a line of text that repeats\n".repeat(1000));
 * const { stored, compression } = encodeBlob(raw);
 * assert.equal(compression, "zstd");
 * assert.ok(stored.length < raw.length / 10);
 * assert.deepEqual(decodeBlob(stored, compression, raw.length), raw);
 *
 * const noise = crypto.getRandomValues(new Uint8Array(4096));
 * assert.equal(encodeBlob(noise).stored, noise); // stored as it is: no copy
 * ```
 *
 * @module
 */
import { constants, zstdCompressSync, zstdDecompressSync, type ZstdOptions } from "node:zlib";
import { BackupError } from "../common/backup_error.ts";
import type { BlobCompression } from "./pack_format.ts";
import { outlineZstdFrame } from "./_zstd_frame.ts";
import { isNoise, SAMPLE_PIECES, sampleIsNoise } from "./blob_noise.ts";

export { entropyBitsPerByte, NOISE_BITS_PER_BYTE } from "./blob_noise.ts";

/** The zstd level of stored blobs (chosen by measurement: see the module comment). */
export const ZSTD_LEVEL = 3;
/** The zstd level of the sample that decides whether a blob is worth compressing. */
export const SAMPLE_LEVEL = 1;
/** A compressed blob is kept only if its frame is smaller than this fraction of the raw bytes. */
export const PAYS_RATIO = 0.97;
/** Blobs of at least this many bytes are sampled before they are compressed whole. */
export const SAMPLE_FROM_BYTES = 256 * 1024;
/** Bytes of each piece of the sample. */
const SAMPLE_PIECE_BYTES = 16 * 1024;
/** The smallest output chunk `node:zlib` accepts (`Z_MIN_CHUNK`). */
const MIN_ZLIB_CHUNK = 64;
/** zstd's smallest window (`ZSTD_WINDOWLOG_ABSOLUTEMIN`). */
const MIN_WINDOW_LOG = 10;
/** zstd's largest window on 64-bit (`ZSTD_WINDOWLOG_MAX_64`). */
const MAX_WINDOW_LOG = 31;

/** Reused for every sample: encoding is synchronous, so one buffer serves every call. */
const sample = new Uint8Array(SAMPLE_PIECES * SAMPLE_PIECE_BYTES);

/** A blob's stored bytes and how to decode them. */
export interface EncodedBlob {
  /** The bytes to write into the pack: a zstd frame, or the raw bytes themselves. */
  stored: Uint8Array;
  /** How `stored` decodes to the raw bytes. */
  compression: BlobCompression;
}

/** Stored bytes that do not decode to the raw bytes the index promises. */
export class CorruptBlobError extends BackupError {}

/**
 * A blob sealed by the client of an encrypted repository asked to be decoded: its bytes have no
 * raw form the store (or a v1/v2 read) could give, so none is made up.
 */
export class SealedBlobError extends BackupError {
  /** Builds the error. */
  constructor() {
    super("a sealed blob cannot be decoded here: only the client of its encrypted repository can");
  }
}

/**
 * The bytes to store for `raw`: one zstd frame if it pays (see the module comment), else `raw`
 * itself (the same array, not a copy). Never throws for any input.
 */
export function encodeBlob(raw: Uint8Array): EncodedBlob {
  if (
    raw.length === 0 || (raw.length >= SAMPLE_FROM_BYTES ? !samplePays(raw) : isNoise(raw))
  ) {
    return { stored: raw, compression: "none" };
  }
  const output = zstdCompressSync(raw, compressOptions(ZSTD_LEVEL, raw.length));
  // Deno's node:zlib often appends an empty second frame (for most text over 64 KiB): a blob is
  // exactly one frame, so keep the first. Anything else unexpected: store the raw bytes.
  const outline = outlineZstdFrame(output);
  if (!outline.ok || outline.contentSize !== raw.length) {
    return { stored: raw, compression: "none" };
  }
  const frame = output.subarray(0, outline.frameBytes);
  if (frame.length >= raw.length * PAYS_RATIO) return { stored: raw, compression: "none" };
  return { stored: ownBytes(frame), compression: "zstd" };
}

/**
 * {@linkcode encodeBlob} for callers that await: the same result. It runs on the calling thread,
 * because in Deno 2.9.6 `node:zlib`'s callback forms do too (no timer fires while they work, and
 * they are no faster: docs/repository.md); so this only keeps the callers' code ready for a worker
 * pool.
 */
export function encodeBlobAsync(raw: Uint8Array): Promise<EncodedBlob> {
  try {
    return Promise.resolve(encodeBlob(raw));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The raw bytes of a stored blob. Uncompressed: `stored` itself (no copy). zstd: a new array of
 * exactly `rawLength` bytes; the frame's outline is checked first, and zstd may never produce (nor
 * allocate) more than `rawLength` bytes, whatever the frame says.
 *
 * @throws {CorruptBlobError} if the stored bytes are not one zstd frame declaring `rawLength`
 * bytes with nothing after it, if zstd refuses them, or if they do not decode to exactly
 * `rawLength` bytes (for `"none"`: if `stored` is not `rawLength` bytes).
 * @throws {SealedBlobError} for a sealed blob: it is never decoded, nor passed off as raw.
 * @throws {RangeError} if `rawLength` is not a non-negative safe integer (a caller's bug).
 */
export function decodeBlob(
  stored: Uint8Array,
  compression: BlobCompression,
  rawLength: number,
): Uint8Array {
  if (!Number.isSafeInteger(rawLength) || rawLength < 0) {
    throw new RangeError(`rawLength must be a non-negative safe integer, got ${rawLength}`);
  }
  if (compression === "none") {
    if (stored.length !== rawLength) {
      throw new CorruptBlobError(
        `uncompressed blob: expected ${rawLength} bytes, got ${stored.length}`,
      );
    }
    return stored;
  }
  if (compression === "sealed") {
    // Never taken for raw bytes: only the client of its encrypted repository can open a seal.
    throw new SealedBlobError();
  }
  if (compression !== "zstd") {
    throw new CorruptBlobError(`unknown compression ${JSON.stringify(compression)}`);
  }
  const outline = outlineZstdFrame(stored);
  if (!outline.ok) throw new CorruptBlobError(`zstd blob: ${outline.reason}`);
  if (outline.contentSize !== rawLength) {
    throw new CorruptBlobError(
      `zstd blob: expected a frame declaring ${rawLength} bytes, got ${
        outline.contentSize ?? "none declared"
      }`,
    );
  }
  if (outline.hasDictionary) throw new CorruptBlobError("zstd blob: the frame names a dictionary");
  if (outline.frameBytes !== stored.length) {
    throw new CorruptBlobError(
      `zstd blob: ${stored.length - outline.frameBytes} bytes after the frame`,
    );
  }
  let raw: Uint8Array;
  try {
    raw = zstdDecompressSync(stored, {
      // One output chunk one byte larger than expected: a frame that runs over fills it, and zlib
      // stops with ERR_BUFFER_TOO_LARGE before it allocates another.
      chunkSize: Math.max(MIN_ZLIB_CHUNK, rawLength + 1),
      maxOutputLength: Math.max(1, rawLength),
      params: { [constants.ZSTD_d_windowLogMax]: windowLogFor(rawLength) },
    });
  } catch (error) {
    throw new CorruptBlobError(`zstd blob does not decode: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (raw.length !== rawLength) {
    throw new CorruptBlobError(`zstd blob: expected ${rawLength} bytes, decoded ${raw.length}`);
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Whether a few spread pieces of `raw` are not noise and their level-1 compression pays. */
function samplePays(raw: Uint8Array): boolean {
  const stride = Math.floor((raw.length - SAMPLE_PIECE_BYTES) / (SAMPLE_PIECES - 1));
  for (let piece = 0; piece < SAMPLE_PIECES; piece++) {
    const from = piece * stride;
    sample.set(raw.subarray(from, from + SAMPLE_PIECE_BYTES), piece * SAMPLE_PIECE_BYTES);
  }
  if (sampleIsNoise(sample)) return false;
  const frame = zstdCompressSync(sample, compressOptions(SAMPLE_LEVEL, sample.length));
  return frame.length < sample.length * PAYS_RATIO;
}

/**
 * Options for one zstd frame of `size` bytes at `level`. The pledged size makes zstd write the
 * content size into the frame header (which the decoder requires) and size its window to the
 * input; Deno's `node:zlib` honours `pledgedSrcSize` but its types do not list it.
 */
function compressOptions(level: number, size: number): ZstdOptions {
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level }, pledgedSrcSize: size };
  return options;
}

/**
 * A plain `Uint8Array` over exactly the frame's bytes. `node:zlib` returns a `Buffer` (whose
 * `slice` does not copy), and a small frame may be a view into a larger output chunk that a pack
 * writer holding many blobs would keep alive: copy those.
 */
function ownBytes(frame: Uint8Array): Uint8Array {
  if (frame.buffer.byteLength > 2 * frame.byteLength) return new Uint8Array(frame);
  return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** The smallest window log that holds `rawLength` bytes: a frame needing more is refused. */
function windowLogFor(rawLength: number): number {
  const log = Math.ceil(Math.log2(Math.max(1, rawLength)));
  return Math.min(MAX_WINDOW_LOG, Math.max(MIN_WINDOW_LOG, log));
}

/**
 * The raw length the zstd frame `stored` declares, for a caller that does not know it (the client
 * of an encrypted repository: a seal holds the frame, not its raw length). `decodeBlob` with it
 * then checks the whole frame.
 *
 * @throws {CorruptBlobError} if `stored` does not start with a zstd frame that declares its size.
 * @example
 * ```ts
 * import { declaredRawLength, encodeBlob } from "./blob_codec.ts";
 * import assert from "node:assert/strict";
 * const { stored } = encodeBlob(new Uint8Array(4096));
 * assert.equal(declaredRawLength(stored), 4096);
 * ```
 */
export function declaredRawLength(stored: Uint8Array): number {
  const outline = outlineZstdFrame(stored);
  if (!outline.ok) throw new CorruptBlobError(`zstd blob: ${outline.reason}`);
  if (outline.contentSize === undefined) {
    throw new CorruptBlobError("zstd blob: the frame declares no size");
  }
  return outline.contentSize;
}
