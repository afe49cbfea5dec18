/**
 * SHA-256 of chunks off the event loop: a chunk's id is hashed in a worker while the event loop
 * takes the next bytes, cuts and hashes the whole file, so an upload uses two cores. The worker is
 * made from a blob URL (its code is a string here), so it needs no read permission and no file
 * beside a compiled binary. Where a worker cannot be made, or one fails, chunks are hashed inline.
 *
 * @example
 * ```ts
 * import { ChunkHasher } from "./chunk_hasher.ts";
 * import { createHash } from "node:crypto";
 * import assert from "node:assert/strict";
 *
 * const hasher = new ChunkHasher();
 * const chunk = new TextEncoder().encode("hello");
 * const { id, bytes } = await hasher.hash(chunk.slice());
 * assert.deepEqual(id, new Uint8Array(createHash("sha256").update(chunk).digest()));
 * assert.deepEqual(bytes, chunk);
 * hasher.close();
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A chunk's id and its bytes (handed back: the worker had them). */
export interface HashedChunk {
  id: Uint8Array;
  bytes: Uint8Array;
}

const WORKER_SOURCE = `import { createHash } from "node:crypto";
self.onmessage = (event) => {
  const { seq, buffer, length } = event.data;
  const bytes = new Uint8Array(buffer, 0, length);
  const id = new Uint8Array(createHash("sha256").update(bytes).digest());
  self.postMessage({ seq, id, buffer, length }, [buffer, id.buffer]);
};`;

/** Hashes chunks in workers (one per spare core, at most `workers`); see the module comment. */
export class ChunkHasher {
  #workers: Worker[] = [];
  /** Workers to start at the first hash (none until then: an idle server holds no isolate). */
  #toStart: number;
  #next = 0;
  #seq = 0;
  readonly #waiting = new Map<number, PromiseWithResolvers<HashedChunk>>();

  /** @param workers workers to start (0: hash inline); default: the cores but one, 1 to 4 */
  constructor(workers = Math.max(1, Math.min(4, (navigator.hardwareConcurrency ?? 2) - 1))) {
    this.#toStart = workers;
  }

  /**
   * Hashes `chunk`, which the hasher takes over with its whole buffer (it goes to a worker and
   * comes back as `bytes`' buffer): pass a view at the start of a buffer that nothing else uses
   * (a copy, or a buffer of one's own pool), and use `bytes` after.
   */
  hash(chunk: Uint8Array): Promise<HashedChunk> {
    if (this.#toStart > 0) this.#startWorkers();
    if (this.#workers.length === 0 || chunk.byteOffset !== 0) {
      return Promise.resolve({ id: sha256(chunk), bytes: chunk });
    }
    const seq = this.#seq++;
    const worker = this.#workers[this.#next++ % this.#workers.length];
    try {
      const buffer = chunk.buffer as ArrayBuffer;
      worker.postMessage({ seq, buffer, length: chunk.length }, [buffer]);
    } catch {
      // A buffer that cannot move (a pool's, a memory's): hashed here instead.
      return Promise.resolve({ id: sha256(chunk), bytes: chunk });
    }
    const waiting = Promise.withResolvers<HashedChunk>();
    this.#waiting.set(seq, waiting);
    return waiting.promise;
  }

  /** Stops the workers; chunks still being hashed get an error. */
  close(): void {
    this.#toStart = 0;
    this.#stop();
  }

  #startWorkers(): void {
    const count = this.#toStart;
    this.#toStart = 0;
    let url: string | undefined;
    try {
      url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      for (let i = 0; i < count; i++) this.#workers.push(this.#start(url));
    } catch {
      this.#stop(); // no workers here: hash inline
    } finally {
      if (url) URL.revokeObjectURL(url);
    }
  }

  #start(url: string): Worker {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (event: MessageEvent) => {
      const { seq, id, buffer, length } = event.data as {
        seq: number;
        id: Uint8Array;
        buffer: ArrayBuffer;
        length: number;
      };
      const waiting = this.#waiting.get(seq);
      this.#waiting.delete(seq);
      waiting?.resolve({ id, bytes: new Uint8Array(buffer, 0, length) });
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#stop(new Error(`the chunk hashing worker failed: ${event.message}`));
    };
    return worker;
  }

  #stop(error = new Error("the chunk hasher is closed")): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers = [];
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}

/** A hasher without workers: chunks hashed on the calling thread. */
export const INLINE_HASHER: ChunkHasher = new ChunkHasher(0);

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
