/**
 * The options of the clients' transfers: progress and what a retrieve's bytes go through on their
 * way to the sink (both versions), and version 2's upload metadata and retrieve of a past version.
 *
 * @module
 */
import type { ByteSink } from "../io/byte_stream.ts";

/** Options of a transfer. */
export interface TransferOptions {
  /** Called as payload bytes move, with the bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * For a retrieve: what the received bytes go through on their way to the sink (the client's
   * decryption, or its refusal of sealed bytes without the key), given what the server said of
   * the payload (version 1: its size only); its `finish` runs once they are all in, before the
   * file is renamed into place. `undefined`: straight to the sink.
   */
  through?: (
    sink: ByteSink,
    payload: { size: number; mode?: number | null },
  ) => (ByteSink & { finish(): Promise<void> }) | undefined;
}

/** What a version 2 upload records besides its bytes. */
export interface UploadMetadata {
  /** Modification time, milliseconds since the epoch. @default now */
  mtimeMs?: number;
  /** Permission bits. @default none */
  mode?: number | null;
}

/** Options of a version 2 retrieve. */
export interface RetrieveOptions extends TransferOptions {
  /** A past version's id (from `versions` or `entries`); absent: the current one. */
  versionId?: number;
}
