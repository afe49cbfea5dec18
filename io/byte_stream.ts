/**
 * The two byte interfaces every transfer in this project goes through. `Deno.Conn` and `Deno.FsFile`
 * satisfy both, so payloads move socket → file and file → socket through one reused buffer.
 *
 * @module
 */

/** Something bytes can be read from into a caller's buffer; `null` at the end. */
export interface ByteSource {
  /** Reads up to `buffer.length` bytes into `buffer`; resolves to the count, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * A source that can lend its bytes instead of copying them (a sender writes them as they are):
 * `readView` resolves the next bytes, `max` at most, as a view valid until the next call, or
 * `null` at the end.
 */
export interface ViewSource {
  readView(max: number): Promise<Uint8Array | null>;
}

/** Whether `source` lends views (see {@linkcode ViewSource}). */
export function lendsViews(source: ByteSource): source is ByteSource & ViewSource {
  return typeof (source as Partial<ViewSource>).readView === "function";
}

/** Something bytes can be written to; a write may take fewer bytes than given. */
export interface ByteSink {
  /** Writes some of `bytes`; resolves to how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
}

/** A source that reads `bytes`, then ends. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  let offset = 0;
  return {
    read(buffer) {
      if (offset === bytes.length) return Promise.resolve(null);
      const count = Math.min(buffer.length, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
  };
}

/** Writes all of `bytes` to `sink`, however many calls that takes. */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await sink.write(offset === 0 ? bytes : bytes.subarray(offset));
  }
}

/** Adapts a `WritableStream` so that it can be used as a `ByteSink` (each chunk is copied once). */
export function sinkFromWritable(writable: WritableStream<Uint8Array>): ByteSink & {
  close(): Promise<void>;
} {
  const writer = writable.getWriter();
  return {
    async write(bytes) {
      // The caller reuses its buffer, so the stream gets a copy it may keep.
      await writer.write(bytes.slice());
      return bytes.length;
    },
    async close() {
      await writer.close();
    },
  };
}

/** Adapts a `ReadableStream` so that it can be used as a `ByteSource`. */
export function sourceFromReadable(readable: ReadableStream<Uint8Array>): ByteSource & {
  cancel(): Promise<void>;
} {
  const reader = readable.getReader();
  let pending: Uint8Array | undefined;
  return {
    async read(buffer) {
      if (!pending || pending.length === 0) {
        const { value, done } = await reader.read();
        if (done) return null;
        pending = value;
      }
      const count = Math.min(buffer.length, pending.length);
      buffer.set(pending.subarray(0, count));
      pending = pending.subarray(count);
      return count;
    },
    async cancel() {
      await reader.cancel();
      reader.releaseLock();
    },
  };
}
