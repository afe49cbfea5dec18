/**
 * The 211 answer streamed from a storage listing: the header declares the exact size, then the
 * names go out page by page through one buffer, whatever the number of files.
 *
 * @module
 */
import { MAX_PAYLOAD_SIZE, Status } from "../protocol/constants.ts";
import { LimitExceededError } from "../storage/errors.ts";
import { NoFilesError } from "../protocol/errors.ts";
import { randomListName } from "../protocol/list.ts";
import { encodeResponseHeader, type ResponseHeaderInit } from "../protocol/response.ts";
import type { FileListing } from "../storage/storage.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import type { TransferIo } from "./transfers.ts";

/**
 * The writes of one list answer (version 1 or 2): each is held to the transfer-rate floor counted
 * from the list's first write, as a download's chunks are, so a client that reads a long list
 * slower than `minTransferRate` is closed instead of keeping the server's work for it open. The
 * time the server spends reading the next page is its own: it is left out of the client's rate,
 * and only the frame timeout bounds it. The session is checked before each write (`checkSession`):
 * a list under way stops once its key is revoked.
 *
 * @param now the clock (milliseconds); injected by tests
 * @returns a write function that sends all bytes (the buffer may be reused once it resolves).
 * @example
 * ```ts
 * import { listWriter } from "./list_response.ts";
 * import assert from "node:assert/strict";
 * let clock = 0;
 * const armed: Array<[number, number]> = [];
 * const write = listWriter({
 *   write: () => Promise.resolve(),
 *   armTransfer: (startedAt, bytesDone) => void armed.push([startedAt, bytesDone]),
 *   checkSession: () => {},
 * }, () => clock);
 * await write(new Uint8Array(100));
 * clock = 5000; // the server took 5 s for the next page
 * await write(new Uint8Array(100));
 * assert.deepEqual(armed[2], [5000, 100]); // counted as if the list had started 5 s later
 * ```
 */
export function listWriter(
  io: Pick<TransferIo, "write" | "armTransfer" | "checkSession">,
  now: () => number = () => performance.now(),
): (bytes: Uint8Array) => Promise<void> {
  let startedAt = now();
  let sent = 0;
  let pausedSince: number | undefined;
  return async (bytes) => {
    io.checkSession();
    if (pausedSince !== undefined) startedAt += now() - pausedSince;
    io.armTransfer(startedAt, sent, "list");
    await io.write(bytes, false);
    sent += bytes.length;
    pausedSince = now();
    io.armTransfer(pausedSince, 0, "list"); // until the next write: the frame timeout alone
  };
}

/**
 * Sends a listing as a 211 through `buffer`: storage's pages are the payload as it is.
 *
 * @param write sends bytes (the buffer is reused once it resolves)
 * @returns the response sent and its payload size.
 * @throws {NoFilesError} if the listing is empty (the answer is then 1002).
 * @throws {Error} if storage yielded other names than it declared before anything was sent.
 * @throws {ConnectionLostError} if that, or a failure of storage, came once part was sent.
 */
export async function sendListing(
  listing: FileListing,
  buffer: Uint8Array,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<{ response: ResponseHeaderInit; payloadSize: number }> {
  if (listing.files === 0) throw new NoFilesError();
  const payloadSize = listing.nameBytes + listing.files;
  if (payloadSize > MAX_PAYLOAD_SIZE) {
    throw new LimitExceededError(`a list of ${payloadSize} bytes does not fit a version 1 answer`);
  }
  const response = { status: Status.ListSent, name: randomListName(), payloadSize };
  let filled = encodeResponseHeader(response, buffer).length;
  let sent = 0;
  let written = false;
  try {
    for await (const page of listing.pages) {
      sent += page.length;
      // A store listed twice (S3) may disagree with what it declared: never send more than that.
      if (sent > payloadSize) break;
      for (let taken = 0; taken < page.length;) {
        if (filled === buffer.length) {
          written = true;
          await write(buffer);
          filled = 0;
        }
        const count = Math.min(page.length - taken, buffer.length - filled);
        buffer.set(page.subarray(taken, taken + count), filled);
        filled += count;
        taken += count;
      }
    }
    if (sent !== payloadSize) {
      throw new Error(`storage listed ${sent} bytes of names, having declared ${payloadSize}`);
    }
  } catch (error) {
    // Part of the answer is out: the connection cannot carry another one.
    if (written) throw new ConnectionLostError("list cut short", { cause: error });
    throw error;
  }
  await write(buffer.subarray(0, filled));
  return { response, payloadSize };
}
