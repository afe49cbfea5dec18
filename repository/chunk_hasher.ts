/**
 * SHA-256 of chunks, on the event loop or in workers. By default on the event loop: a worker
 * isolate costs the server memory at an upload's peak (issue #21 wants it under 100 MiB), for more
 * speed of a large upload where a core is free (figures: docs/performance.md, "Memory with
 * 1,000,000 chunks indexed"). With workers (`new ChunkHasher(n)`, the engines' `hashWorkers`), a
 * chunk's id is hashed in a worker while the event loop takes the next bytes and cuts them, so an
 * upload uses two cores: an upload's chunks lie in shared memory (`hashShared`: the worker reads
 * them in place, a message carries only offsets), and the whole file's SHA-256 is hashed there with
 * them (`openStream`, `digestStream`); chunks read back move to the worker and back (`hash`,
 * `hashPieces`). The worker is made from a blob URL (its code is a string here), so it needs no
 * read permission and no file beside a compiled binary. Where a worker cannot be made, chunks are
 * hashed inline; where one fails, what waits on it is rejected.
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
import { createHash, type Hash } from "node:crypto";

/** A chunk's id and its bytes (handed back: the worker had them). */
export interface HashedChunk {
  id: Uint8Array;
  bytes: Uint8Array;
}

/** Bytes hashed into a stream's hash and a chunk's in turn (within the L2 cache). */
const INTERLEAVE_BYTES = 64 * 1024;

const WORKER_SOURCE = `import { createHash } from "node:crypto";
const streams = new Map();
self.onmessage = (event) => {
  const { seq, buffer, length, pieces, shared, spans, stream, digest, drop } = event.data;
  if (shared) {
    const hash = createHash("sha256");
    let whole;
    if (stream !== undefined) {
      whole = streams.get(stream) ?? createHash("sha256");
      streams.set(stream, whole);
    }
    for (const [at, count] of spans) {
      // Both hashes piece by piece: the stream's reads the bytes while the chunk's left them hot.
      for (let from = at; from < at + count; from += ${INTERLEAVE_BYTES}) {
        const piece = new Uint8Array(shared, from, Math.min(${INTERLEAVE_BYTES}, at + count - from));
        whole?.update(piece);
        hash.update(piece);
      }
    }
    const spanned = new Uint8Array(hash.digest());
    self.postMessage({ seq, spanned }, [spanned.buffer]);
    return;
  }
  if (digest !== undefined) {
    const spanned = new Uint8Array((streams.get(digest) ?? createHash("sha256")).digest());
    streams.delete(digest);
    self.postMessage({ seq, spanned }, [spanned.buffer]);
    return;
  }
  if (drop !== undefined) {
    streams.delete(drop);
    return;
  }
  if (pieces) {
    const ids = pieces.map(([at, count]) =>
      new Uint8Array(createHash("sha256").update(new Uint8Array(buffer, at, count)).digest()));
    self.postMessage({ seq, ids, buffer }, [buffer]);
    return;
  }
  const bytes = new Uint8Array(buffer, 0, length);
  const id = new Uint8Array(createHash("sha256").update(bytes).digest());
  self.postMessage({ seq, id, buffer, length }, [buffer, id.buffer]);
};`;

/** The ids of pieces of one buffer, and the buffer (handed back: the worker had it). */
export interface HashedPieces {
  ids: Uint8Array[];
  buffer: ArrayBuffer;
}

/** Hashes chunks in workers (one per spare core, at most `workers`); see the module comment. */
export class ChunkHasher {
  #workers: Worker[] = [];
  /** Workers to start at the first hash (none until then: an idle server holds no isolate). */
  #toStart: number;
  #next = 0;
  #seq = 0;
  readonly #waiting = new Map<number, PromiseWithResolvers<HashedChunk>>();
  readonly #waitingPieces = new Map<number, PromiseWithResolvers<HashedPieces>>();
  readonly #waitingSpans = new Map<number, PromiseWithResolvers<Uint8Array>>();
  #streams = 0;
  /** The worker of each open stream (its messages must stay in order), or its hash if inline. */
  readonly #streamWorkers = new Map<number, Worker>();
  readonly #inlineStreams = new Map<number, Hash>();

  /** @param workers workers to start (0: hash inline) */
  constructor(workers = 0) {
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

  /**
   * Hashes each piece (`[offset, length]`) of `buffer` in one message (many chunks read from a
   * pack at once), taking the buffer over as `hash` does: use the `buffer` resolved after.
   */
  hashPieces(buffer: ArrayBuffer, pieces: [number, number][]): Promise<HashedPieces> {
    const inline = () =>
      Promise.resolve({
        ids: pieces.map(([at, count]) => sha256(new Uint8Array(buffer, at, count))),
        buffer,
      });
    if (this.#toStart > 0) this.#startWorkers();
    if (this.#workers.length === 0) return inline();
    const seq = this.#seq++;
    const worker = this.#workers[this.#next++ % this.#workers.length];
    try {
      worker.postMessage({ seq, buffer, pieces }, [buffer]);
    } catch {
      return inline(); // a buffer that cannot move: hashed here instead
    }
    const waiting = Promise.withResolvers<HashedPieces>();
    this.#waitingPieces.set(seq, waiting);
    return waiting.promise;
  }

  /**
   * The SHA-256 of the bytes of `shared` at `spans` (`[offset, length]`, in order: one chunk that
   * may wrap around a ring). Nothing moves: the worker reads the same memory, so the caller must
   * leave those bytes unchanged until this settles.
   */
  hashShared(
    shared: SharedArrayBuffer | ArrayBuffer,
    spans: readonly (readonly [number, number])[],
    stream?: number,
  ): Promise<Uint8Array> {
    if (this.#toStart > 0) this.#startWorkers();
    const whole = stream === undefined ? undefined : this.#inlineStreams.get(stream);
    // Memory that is not shared is hashed here: posting it would copy it.
    const here = stream === undefined &&
      (this.#workers.length === 0 || !(shared instanceof SharedArrayBuffer));
    if (whole || here) {
      const hash = createHash("sha256");
      for (const [at, count] of spans) {
        const bytes = new Uint8Array(shared, at, count);
        whole?.update(bytes);
        hash.update(bytes);
      }
      return Promise.resolve(new Uint8Array(hash.digest()));
    }
    const worker = stream === undefined
      ? this.#workers[this.#next++ % this.#workers.length]
      : this.#streamWorkers.get(stream);
    return this.#ask(worker, { shared, spans, stream });
  }

  /**
   * Opens a stream: a SHA-256 of all the bytes that `hashShared` calls naming it hash, in the
   * order of the calls (they go to one worker, in order). `digestStream` gives it and closes it.
   */
  openStream(): number {
    if (this.#toStart > 0) this.#startWorkers();
    const stream = this.#streams++;
    if (this.#workers.length === 0) this.#inlineStreams.set(stream, createHash("sha256"));
    else this.#streamWorkers.set(stream, this.#workers[this.#next++ % this.#workers.length]);
    return stream;
  }

  /** The SHA-256 of a stream's bytes, once every `hashShared` before this call has hashed them. */
  digestStream(stream: number): Promise<Uint8Array> {
    const inline = this.#inlineStreams.get(stream);
    this.#inlineStreams.delete(stream);
    if (inline) return Promise.resolve(new Uint8Array(inline.digest()));
    const worker = this.#streamWorkers.get(stream);
    this.#streamWorkers.delete(stream);
    return this.#ask(worker, { digest: stream });
  }

  /** Drops a stream without its digest (an upload aborted). */
  closeStream(stream: number): void {
    this.#inlineStreams.delete(stream);
    const worker = this.#streamWorkers.get(stream);
    this.#streamWorkers.delete(stream);
    if (worker && this.#workers.includes(worker)) worker.postMessage({ drop: stream });
  }

  /** Posts a request to `worker` and resolves its answer; rejects if that worker has stopped. */
  #ask(worker: Worker | undefined, request: object): Promise<Uint8Array> {
    if (!worker || !this.#workers.includes(worker)) {
      return Promise.reject(new Error("the chunk hashing worker has stopped"));
    }
    const seq = this.#seq++;
    const waiting = Promise.withResolvers<Uint8Array>();
    this.#waitingSpans.set(seq, waiting);
    worker.postMessage({ seq, ...request });
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
      const { seq, id, ids, buffer, length, spanned } = event.data as {
        seq: number;
        id: Uint8Array;
        ids?: Uint8Array[];
        buffer: ArrayBuffer;
        length: number;
        spanned?: Uint8Array;
      };
      if (spanned) {
        const waiting = this.#waitingSpans.get(seq);
        this.#waitingSpans.delete(seq);
        waiting?.resolve(spanned);
        return;
      }
      if (ids) {
        const pieces = this.#waitingPieces.get(seq);
        this.#waitingPieces.delete(seq);
        pieces?.resolve({ ids, buffer });
        return;
      }
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
    for (const waiting of this.#waitingPieces.values()) waiting.reject(error);
    this.#waitingPieces.clear();
    for (const waiting of this.#waitingSpans.values()) waiting.reject(error);
    this.#waitingSpans.clear();
  }
}

/** A hasher without workers: chunks hashed on the calling thread. */
export const INLINE_HASHER: ChunkHasher = new ChunkHasher(0);

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
