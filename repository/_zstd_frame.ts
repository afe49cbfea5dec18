/**
 * Reads the outline of one zstd frame (RFC 8878, section 3.1.1) without decoding it: the content
 * size its header declares and how many bytes the frame occupies. `node:zlib` decodes the first
 * frame and silently ignores whatever follows it, and returns what it has for a frame cut short, so
 * the blob codec walks the frame itself first: a blob is exactly one frame, and a frame that
 * declares another size than the index's is refused before zstd allocates anything for it.
 *
 * Internal to `repository/`: pure, no I/O.
 *
 * @module
 */

/** The first 4 bytes of a zstd frame, little-endian. */
export const ZSTD_MAGIC = 0xfd2f_b528;

const MAGIC_BYTES = 4;
const BLOCK_HEADER_BYTES = 3;
const CHECKSUM_BYTES = 4;
/** Largest block content (RFC 8878, Block_Maximum_Size). */
const MAX_BLOCK_BYTES = 128 * 1024;
const BLOCK_RAW = 0;
const BLOCK_RLE = 1;
const BLOCK_COMPRESSED = 2;
/** Bytes of the Dictionary_ID field for each value of Dictionary_ID_flag. */
const DICTIONARY_ID_BYTES = [0, 1, 2, 4];
/** Bytes of Frame_Content_Size for each FCS_Field_Size flag (flag 0: 1 if single segment). */
const CONTENT_SIZE_BYTES = [0, 2, 4, 8];
/** What a 2-byte Frame_Content_Size adds to the value it stores. */
const TWO_BYTE_SIZE_BIAS = 256;

/** The outline of a frame, or why it is not one. */
export type FrameOutline =
  | {
    ok: true;
    /** The declared Frame_Content_Size, or undefined if the header has none. */
    contentSize: number | undefined;
    /** Whether the header names a dictionary. */
    hasDictionary: boolean;
    /** Bytes from the magic to the end of the checksum (or of the last block). */
    frameBytes: number;
  }
  | { ok: false; reason: string };

/**
 * The outline of the zstd frame at the start of `bytes`. Walks the block headers (3 bytes per block
 * of up to 128 KiB), so it costs next to nothing beside decoding.
 */
export function outlineZstdFrame(bytes: Uint8Array): FrameOutline {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < MAGIC_BYTES + 1) return fail(`${bytes.length} bytes are too few for a frame`);
  const magic = view.getUint32(0, true);
  if (magic !== ZSTD_MAGIC) return fail(`magic 0x${magic.toString(16)} is not a zstd frame's`);
  const descriptor = bytes[MAGIC_BYTES];
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const reservedBit = (descriptor >> 3) & 1;
  const hasChecksum = (descriptor >> 2) & 1;
  const dictionaryFlag = descriptor & 3;
  if (reservedBit !== 0) return fail("the frame header's reserved bit is set");
  const windowBytes = singleSegment ? 0 : 1;
  const sizeBytes = sizeFlag === 0 ? singleSegment : CONTENT_SIZE_BYTES[sizeFlag];
  const sizeAt = MAGIC_BYTES + 1 + windowBytes + DICTIONARY_ID_BYTES[dictionaryFlag];
  let at = sizeAt + sizeBytes;
  if (bytes.length < at) return fail("the frame header is cut short");
  const contentSize = sizeBytes === 0 ? undefined : readContentSize(view, sizeAt, sizeBytes);
  for (let last = false; !last;) {
    if (bytes.length < at + BLOCK_HEADER_BYTES) return fail("a block header is cut short");
    const blockHeader = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
    at += BLOCK_HEADER_BYTES;
    last = (blockHeader & 1) === 1;
    const type = (blockHeader >> 1) & 3;
    const size = blockHeader >>> 3;
    if (size > MAX_BLOCK_BYTES) return fail(`a block of ${size} bytes exceeds ${MAX_BLOCK_BYTES}`);
    if (type === BLOCK_RAW || type === BLOCK_COMPRESSED) at += size;
    else if (type === BLOCK_RLE) at += 1;
    else return fail("a block has the reserved type");
  }
  if (hasChecksum) at += CHECKSUM_BYTES;
  if (bytes.length < at) return fail("the frame is cut short");
  return { ok: true, contentSize, hasDictionary: dictionaryFlag !== 0, frameBytes: at };
}

function readContentSize(view: DataView, at: number, bytes: number): number {
  if (bytes === 1) return view.getUint8(at);
  if (bytes === 2) return view.getUint16(at, true) + TWO_BYTE_SIZE_BIAS;
  if (bytes === 4) return view.getUint32(at, true);
  // Above 2^53 the number is inexact, but still far above any u32 length it is compared with.
  return Number(view.getBigUint64(at, true));
}

function fail(reason: string): FrameOutline {
  return { ok: false, reason };
}
