/**
 * A version 1 list read as it streams: names split at `\n` as chunks arrive, each checked as the
 * server checks names, so that memory grows with the names, never with what a server declares.
 *
 * @module
 */
import { MAX_NAME_BYTES } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { validateName } from "../protocol/names.ts";

const NEWLINE = 0x0a;

/** Collects names from a list payload's chunks. */
export class ListNames {
  readonly #names: string[] = [];
  #partial = new Uint8Array(MAX_NAME_BYTES);
  #partialLength = 0;

  /** Takes the next chunk of the payload. @throws {ProtocolError} for an invalid name. */
  push(chunk: Uint8Array): void {
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, start)) {
      this.#append(chunk.subarray(start, at));
      this.#finishName();
      start = at + 1;
    }
    this.#append(chunk.subarray(start));
  }

  /** The names; a last name without its `\n` is kept. @throws {ProtocolError} */
  end(): string[] {
    if (this.#partialLength > 0) this.#finishName();
    return this.#names;
  }

  #append(bytes: Uint8Array): void {
    if (this.#partialLength + bytes.length > MAX_NAME_BYTES) {
      throw new ProtocolError(`the server listed a name longer than ${MAX_NAME_BYTES} bytes`);
    }
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength += bytes.length;
  }

  #finishName(): void {
    try {
      this.#names.push(validateName(this.#partial.slice(0, this.#partialLength)));
    } catch (error) {
      throw new ProtocolError(`the server listed an invalid name: ${(error as Error).message}`);
    }
    this.#partialLength = 0;
  }
}
