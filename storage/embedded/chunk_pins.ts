/**
 * What garbage collection must leave for work in flight: chunks an upload found (`ChunkPins`) and
 * chunked versions being read (`ActiveReads`), counted in memory.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";

/** Blobs looked up by uploads in flight, counted per user and id: garbage collection leaves them. */
export class ChunkPins {
  readonly #counts = new Map<string, number>();

  /** Pins a chunk; returns the key to give back to `unpin`. */
  pin(userId: number, id: Uint8Array): string {
    const key = `${userId}:${toHex(id)}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    return key;
  }

  /** Gives back pins. */
  unpin(keys: Iterable<string>): void {
    for (const key of keys) {
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left > 0) this.#counts.set(key, left);
      else this.#counts.delete(key);
    }
  }

  /** Whether an upload in flight counts on this chunk. */
  pinned(userId: number, id: Uint8Array): boolean {
    return this.#counts.has(`${userId}:${toHex(id)}`);
  }
}

/** Chunked versions being read now, counted: garbage collection keeps their released lists. */
export class ActiveReads {
  readonly #counts = new Map<number, number>();

  /** Counts a reader of `versionId` in; the function returned counts it out (once). */
  begin(versionId: number): () => void {
    this.#counts.set(versionId, (this.#counts.get(versionId) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.#counts.get(versionId)! - 1;
      if (left > 0) this.#counts.set(versionId, left);
      else this.#counts.delete(versionId);
    };
  }

  /** The versions being read now. */
  versions(): number[] {
    return [...this.#counts.keys()];
  }
}
