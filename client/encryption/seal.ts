/**
 * Sealing and opening files in chunks with WebCrypto's AES-GCM: a fresh key per file, wrapped by
 * the user's key; chunk order and the end of the file are in every chunk's nonce, so that a
 * reordered, dropped or cut chunk fails to open.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import type { ByteSink, ByteSource } from "../../io/byte_stream.ts";
import { writeAll } from "../../io/byte_stream.ts";
import { readFull } from "../../io/relay.ts";
import {
  CHUNK_SIZE,
  chunkCount,
  chunkNonce,
  encodeHeader,
  HEADER_SIZE,
  looksSealed,
  NONCE_PREFIX_SIZE,
  parseHeader,
  type SealedKind,
  TAG_SIZE,
  WRAP_NONCE_SIZE,
  wrapData,
} from "./format.ts";

/** A sealed file that cannot be opened: another key, or bytes changed, reordered or cut. */
export class DecryptionError extends BackupError {}

/** What a file is sealed with: the user's key (AES-256-GCM). */
export type UserKey = CryptoKey;

/** What a payload is sealed for: the user's key, the stored name, and what it stands for. */
export interface SealFor {
  userKey: UserKey;
  /** The name as the user knows it (not the sealed name of `--encrypt-names`). */
  name: string;
  /** A file's bytes, a link's target, or a folder's metadata. @default "file" */
  kind?: SealedKind;
}

/** Random values for a new file, injected by the test vectors. */
export interface SealRandom {
  fileKey: Uint8Array;
  wrapNonce: Uint8Array;
  noncePrefix: Uint8Array;
}

function freshRandom(): SealRandom {
  return {
    fileKey: crypto.getRandomValues(new Uint8Array(32)),
    wrapNonce: crypto.getRandomValues(new Uint8Array(WRAP_NONCE_SIZE)),
    noncePrefix: crypto.getRandomValues(new Uint8Array(NONCE_PREFIX_SIZE)),
  };
}

const gcm = (iv: Uint8Array, additionalData?: Uint8Array) => ({
  name: "AES-GCM",
  iv: new Uint8Array(iv),
  ...(additionalData ? { additionalData: new Uint8Array(additionalData) } : {}),
});

/**
 * A source of the sealed bytes of `plainSize` bytes read from `source`: the header, then each
 * chunk sealed as it is read (never more than a chunk in memory). The file key is wrapped with
 * the stored `name` as additional data: a server that hands out one file's bytes for another's is
 * caught.
 */
export async function sealingSource(
  source: ByteSource,
  plainSize: number,
  seal: SealFor,
  random: SealRandom = freshRandom(),
): Promise<ByteSource> {
  const { userKey, name, kind } = seal;
  const fileKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(random.fileKey),
    "AES-GCM",
    false,
    [
      "encrypt",
    ],
  );
  const sealedKey = new Uint8Array(
    await crypto.subtle.encrypt(
      gcm(random.wrapNonce, wrapData(name, kind)),
      userKey,
      new Uint8Array(random.fileKey),
    ),
  );
  let pending: Uint8Array = encodeHeader({
    wrapNonce: random.wrapNonce,
    sealedKey,
    noncePrefix: random.noncePrefix,
  });
  const chunks = chunkCount(plainSize);
  let index = 0;
  let left = plainSize;
  const plain = new Uint8Array(CHUNK_SIZE);
  return {
    async read(buffer) {
      if (pending.length === 0) {
        if (index === chunks) return null;
        const size = Math.min(CHUNK_SIZE, left);
        const got = await readFull(source, plain.subarray(0, size));
        if (got < size) throw new Error(`the file ended ${size - got} bytes early`);
        left -= size;
        const last = index === chunks - 1;
        pending = new Uint8Array(
          await crypto.subtle.encrypt(
            gcm(chunkNonce(random.noncePrefix, index, last)),
            fileKey,
            plain.subarray(0, size),
          ),
        );
        index++;
      }
      const count = Math.min(buffer.length, pending.length);
      buffer.set(pending.subarray(0, count));
      pending = pending.subarray(count);
      return count;
    },
  };
}

/**
 * A sink that opens sealed bytes as they come and writes the plain bytes to `sink`. `finish`
 * checks that the file ended where its last chunk says.
 *
 * @throws {DecryptionError} (from `write` or `finish`) for another key or changed bytes.
 */
export function openingSink(sink: ByteSink, seal: SealFor): ByteSink & {
  finish(): Promise<void>;
} {
  const { userKey, name, kind = "file" } = seal;
  // An entry that was never sealed is refused: under --encrypt, every file, link and folder is.
  const notSealed = () =>
    new DecryptionError(
      `${what(kind)} ${name} is not sealed: refused (--encrypt opens only what it sealed)`,
    );
  const sealedChunk = CHUNK_SIZE + TAG_SIZE;
  const buffer = new Uint8Array(Math.max(HEADER_SIZE, sealedChunk));
  let filled = 0;
  let header: { fileKey: CryptoKey; prefix: Uint8Array } | undefined;
  let index = 0;
  let ended = false;
  const open = async (sealed: Uint8Array, last: boolean) => {
    if (ended) throw new DecryptionError("bytes after the end of the sealed file");
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        gcm(chunkNonce(header!.prefix, index, last)),
        header!.fileKey,
        new Uint8Array(sealed),
      );
    } catch {
      throw new DecryptionError(
        `chunk ${index} does not open: another key, or the bytes were changed, moved or cut`,
      );
    }
    index++;
    ended = last;
    await writeAll(sink, new Uint8Array(plain));
  };
  const readHeader = async () => {
    const parsed = parseHeader(buffer.subarray(0, HEADER_SIZE));
    if (!parsed) throw notSealed();
    let raw: ArrayBuffer;
    try {
      raw = await crypto.subtle.decrypt(
        gcm(parsed.wrapNonce, wrapData(name, kind)),
        userKey,
        new Uint8Array(parsed.sealedKey),
      );
    } catch {
      throw new DecryptionError(
        `${name} was sealed with another key, or for another name or kind (expected: ` +
          `${what(kind)})`,
      );
    }
    const fileKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
    header = { fileKey, prefix: parsed.noncePrefix };
    buffer.copyWithin(0, HEADER_SIZE, filled);
    filled -= HEADER_SIZE;
  };
  return {
    async write(bytes) {
      let taken = 0;
      while (taken < bytes.length) {
        const room = buffer.length - filled;
        const count = Math.min(room, bytes.length - taken);
        buffer.set(bytes.subarray(taken, taken + count), filled);
        filled += count;
        taken += count;
        if (!header && filled >= HEADER_SIZE) await readHeader();
        // A full sealed chunk with more behind it is not the last one.
        while (header && filled === buffer.length && taken < bytes.length) {
          await open(buffer.subarray(0, sealedChunk), false);
          buffer.copyWithin(0, sealedChunk, filled);
          filled -= sealedChunk;
        }
      }
      return bytes.length;
    },
    async finish() {
      if (!header) {
        if (!looksSealed(buffer.subarray(0, filled))) throw notSealed();
        throw new DecryptionError("the sealed file is shorter than its header");
      }
      if (filled > sealedChunk) {
        await open(buffer.subarray(0, sealedChunk), false);
        buffer.copyWithin(0, sealedChunk, filled);
        filled -= sealedChunk;
      }
      if (filled < TAG_SIZE) throw new DecryptionError("the sealed file was cut short");
      await open(buffer.subarray(0, filled), true);
      filled = 0;
    },
  };
}

function what(kind: SealedKind): string {
  return kind === "file" ? "a file" : kind === "link" ? "a link" : "a folder's marker";
}
