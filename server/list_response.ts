/**
 * The 211 answer streamed from a storage listing: the header declares the exact size, then the
 * names go out page by page through one buffer, whatever the number of files.
 *
 * @module
 */
import { LIST_SEPARATOR, MAX_PAYLOAD_SIZE, Status } from "../protocol/constants.ts";
import { LimitExceededError, NoFilesError } from "../protocol/errors.ts";
import { randomListName } from "../protocol/list.ts";
import { encodeResponseHeader, type ResponseHeaderInit } from "../protocol/response.ts";
import type { FileListing } from "../storage/storage.ts";

/**
 * Sends a listing as a 211 through `buffer`, each name followed by `\n`.
 *
 * @param write sends bytes (the buffer is reused once it resolves)
 * @returns the response sent and its payload size.
 * @throws {NoFilesError} if the listing is empty (the answer is then 1002).
 * @throws {Error} if storage yielded other names than it declared (nothing more can be sent).
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
  for await (const page of listing.pages) {
    for (const name of page) {
      if (filled + name.length + 1 > buffer.length) {
        await write(buffer.subarray(0, filled));
        filled = 0;
      }
      buffer.set(name, filled);
      buffer[filled + name.length] = LIST_SEPARATOR;
      filled += name.length + 1;
      sent += name.length + 1;
    }
  }
  if (sent !== payloadSize) {
    throw new Error(`storage listed ${sent} bytes of names, having declared ${payloadSize}`);
  }
  await write(buffer.subarray(0, filled));
  return { response, payloadSize };
}
