import { MAX_RESPONSE_HEADER_SIZE, Op, Status } from "../protocol/constants.ts";
import {
  ConnectionLostError,
  FileNotFoundError,
  ProtocolError,
  ServerError,
} from "../protocol/errors.ts";
import { decodeList } from "../protocol/list.ts";
import { checkUint32, encodeRequestHeader } from "../protocol/request.ts";
import { parseResponseHeader, type ResponseHeader } from "../protocol/response.ts";
import { AdaptiveFile } from "../io/adaptive_file.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import {
  type ByteSink,
  type ByteSource,
  sinkFromWritable,
  sourceFromReadable,
  writeAll,
} from "../io/byte_stream.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import { headerThenPayload, relay } from "../io/relay.ts";

/** Options of `BackupClient.connect`. */
export interface BackupClientOptions {
  /** The user id every request acts for (0..2^32-1). */
  userId: number;
  /** Server host; default `127.0.0.1`. */
  hostname?: string;
  /** Server port; default 1234. */
  port?: number;
}

/** Options of a transfer. */
export interface TransferOptions {
  /** Called as payload bytes move, with the bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

const TRANSFER_BUFFER_SIZE = 1024 * 1024;
const READ_BUFFER_SIZE = 16 * 1024 + MAX_RESPONSE_HEADER_SIZE;

/** The server closed the connection before any byte of the answer: a request that can be replayed. */
class ClosedBeforeAnswerError extends ConnectionLostError {}

/**
 * A client of the backup protocol over one TCP connection, reused for every request.
 *
 * Payloads are streamed through one reused buffer: no file is ever held in memory. If the server closes
 * the connection between requests (as the original server does after each response), the client
 * reconnects and, where the request can be replayed (everything but a backup from a stream), sends it
 * again.
 *
 * @example
 * ```ts ignore
 * import { BackupClient } from "./backup_client.ts";
 * const client = await BackupClient.connect({ userId: 42, port: 1234 });
 * await client.backupFile("notes/todo.txt", "./todo.txt");
 * console.log(await client.list()); // ["notes/todo.txt"]
 * await client.retrieveToFile("notes/todo.txt", "./todo-restored.txt");
 * client.close();
 * ```
 */
export class BackupClient {
  readonly #hostname: string;
  readonly #port: number;
  readonly #userId: number;
  /** Two transfer buffers: one is filled while the other is sent or written. */
  readonly #buffers = [
    new Uint8Array(TRANSFER_BUFFER_SIZE),
    new Uint8Array(TRANSFER_BUFFER_SIZE),
  ] as const;
  #conn: Deno.TcpConn | undefined;
  #reader: BufferedReader | undefined;
  #answered = 0;

  private constructor(options: BackupClientOptions) {
    checkUint32("user id", options.userId);
    this.#userId = options.userId;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#port = options.port ?? 1234;
  }

  /**
   * Connects to a server.
   *
   * @throws {Deno.errors.ConnectionRefused} and other network errors if the server cannot be reached.
   */
  static async connect(options: BackupClientOptions): Promise<BackupClient> {
    const client = new BackupClient(options);
    await client.#connect();
    return client;
  }

  /** The user id requests act for. */
  get userId(): number {
    return this.#userId;
  }

  /**
   * Backs up a local file under `name`. Resolves its size once the server has acknowledged it (212).
   *
   * @throws {ServerError} if the server refused it (1003); {InvalidNameError} for a bad name.
   */
  async backupFile(name: string, path: string, options?: TransferOptions): Promise<number> {
    return await this.#exchange(true, async () => {
      using file = await Deno.open(path, { read: true });
      const { size } = await file.stat();
      await this.#sendBackup(name, new AdaptiveFile(file), size, options);
      return size;
    });
  }

  /**
   * Backs up `size` bytes read from `source` (a `ReadableStream` or anything with `read(buffer)`).
   *
   * @throws {ServerError} if the server refused it; {Error} if the source ends before `size` bytes.
   */
  async backup(
    name: string,
    source: ReadableStream<Uint8Array> | ByteSource,
    size: number,
    options?: TransferOptions,
  ): Promise<void> {
    const byteSource = source instanceof ReadableStream ? sourceFromReadable(source) : source;
    await this.#exchange(false, () => this.#sendBackup(name, byteSource, size, options));
  }

  /**
   * Retrieves `name` into `sink` (a `WritableStream`, which is closed at the end, or anything with
   * `write(bytes)`). Resolves the file's size.
   *
   * @throws {FileNotFoundError} if the server has no such file.
   */
  async retrieve(
    name: string,
    sink: WritableStream<Uint8Array> | ByteSink,
    options?: TransferOptions,
  ): Promise<number> {
    if (!(sink instanceof WritableStream)) {
      return await this.#exchange(true, () => this.#receiveFile(name, sink, options));
    }
    const streamSink = sinkFromWritable(sink);
    const size = await this.#exchange(true, () => this.#receiveFile(name, streamSink, options));
    await streamSink.close();
    return size;
  }

  /**
   * Retrieves `name` into the local file `path`, replacing it only once the whole file has arrived.
   * Resolves the file's size.
   *
   * @throws {FileNotFoundError} if the server has no such file (the local file is left alone).
   */
  async retrieveToFile(name: string, path: string, options?: TransferOptions): Promise<number> {
    const partial = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const size = await this.#exchange(true, async () => {
        using file = await Deno.open(partial, { write: true, create: true, truncate: true });
        return await this.#receiveFile(name, new AdaptiveFile(file), options);
      });
      await Deno.rename(partial, path);
      return size;
    } finally {
      await Deno.remove(partial).catch(() => {});
    }
  }

  /** Deletes `name`. @throws {FileNotFoundError} if the server has no such file. */
  async delete(name: string): Promise<void> {
    await this.#exchange(true, async () => {
      await this.#send(encodeRequestHeader({ userId: this.#userId, op: Op.Delete, name }));
      this.#expect(await this.#readHeader(), Status.Done, name);
    });
  }

  /** The user's file names, sorted by byte order; empty if the user has none. */
  async list(): Promise<string[]> {
    return await this.#exchange(true, async () => {
      await this.#send(encodeRequestHeader({ userId: this.#userId, op: Op.List }));
      const header = await this.#readHeader();
      if (header.status === Status.NoFiles) return [];
      this.#expect(header, Status.ListSent, "");
      const payload = new Uint8Array(header.payloadSize);
      let filled = 0;
      while (filled < payload.length) {
        const chunk = await this.#reader!.readSome(
          payload.length - filled,
          this.#buffers[0],
          "list",
        );
        payload.set(chunk, filled);
        filled += chunk.length;
      }
      return decodeList(payload);
    });
  }

  /** Closes the connection. The client may not be used afterwards. */
  close(): void {
    this.#drop();
  }

  /** Makes sure it is closed, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #connect(): Promise<void> {
    this.#conn = await Deno.connect({ hostname: this.#hostname, port: this.#port });
    this.#conn.setNoDelay(true);
    this.#reader = new BufferedReader(this.#conn, READ_BUFFER_SIZE);
    this.#answered = 0;
  }

  #drop(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = undefined;
    this.#reader = undefined;
  }

  /**
   * Runs one request-response exchange, connecting first if needed. A connection the server closed
   * after an earlier answer is replaced, and a replayable request is sent once more.
   */
  async #exchange<T>(replayable: boolean, run: () => Promise<T>): Promise<T> {
    if (!this.#conn) await this.#connect();
    const reused = this.#answered > 0;
    try {
      const result = await run();
      this.#answered++;
      return result;
    } catch (error) {
      if (error instanceof ServerError || error instanceof ConnectionLostError) this.#drop();
      if (error instanceof ClosedBeforeAnswerError && reused && replayable) {
        await this.#connect();
        const result = await run();
        this.#answered++;
        return result;
      }
      throw error;
    }
  }

  /**
   * Sends a backup: the header and the first bytes in one write, then the rest, the source filling one
   * buffer while the socket takes the other.
   */
  async #sendBackup(
    name: string,
    source: ByteSource,
    size: number,
    options?: TransferOptions,
  ): Promise<void> {
    const head = encodeRequestHeader({
      userId: this.#userId,
      op: Op.Backup,
      name,
      payloadSize: size,
    });
    this.#buffers[0].set(head);
    let written = 0;
    await relay(
      this.#buffers,
      headerThenPayload(source, size, head.length, (missing) => {
        // The header promised more bytes than exist: the stream cannot be put back in step.
        this.#drop();
        return new Error(`the source of ${name} ended ${missing} bytes before its size ${size}`);
      }),
      async (chunk) => {
        await this.#send(chunk, written === 0);
        written += chunk.length;
        options?.onProgress?.(written - head.length, size);
      },
    );
    this.#expect(await this.#readHeader(), Status.Done, name);
  }

  /** Receives a file into `sink`: the socket fills one buffer while the sink takes the other. */
  async #receiveFile(name: string, sink: ByteSink, options?: TransferOptions): Promise<number> {
    await this.#send(encodeRequestHeader({ userId: this.#userId, op: Op.Retrieve, name }));
    const header = await this.#readHeader();
    this.#expect(header, Status.FileRestored, name);
    const size = header.payloadSize;
    let remaining = size;
    let written = 0;
    await relay(
      this.#buffers,
      async (buffer) => {
        if (remaining === 0) return null;
        const chunk = await this.#readSome(remaining, buffer);
        remaining -= chunk.length;
        return chunk;
      },
      async (chunk) => {
        await writeAll(sink, chunk);
        written += chunk.length;
        options?.onProgress?.(written, size);
      },
    );
    return size;
  }

  async #send(bytes: Uint8Array, firstBytes = true): Promise<void> {
    try {
      await writeAll(this.#conn!, bytes);
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      const message = "the server closed the connection";
      throw firstBytes
        ? new ClosedBeforeAnswerError(message, { cause: error })
        : new ConnectionLostError(message, { cause: error });
    }
  }

  async #readHeader(): Promise<ResponseHeader> {
    let parsed;
    try {
      parsed = await this.#reader!.readFrame(parseResponseHeader, "response header");
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      throw new ConnectionLostError("the connection failed while waiting for an answer", {
        cause: error,
      });
    }
    if (!parsed) throw new ClosedBeforeAnswerError("the server closed the connection unanswered");
    return parsed.header;
  }

  async #readSome(limit: number, scratch: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.#reader!.readSome(limit, scratch, "response payload");
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      throw new ConnectionLostError("the connection failed during a download", { cause: error });
    }
  }

  /** Turns a status other than the expected one into the matching error. */
  #expect(header: ResponseHeader, expected: Status, name: string): void {
    if (header.status === expected) return;
    if (header.status === Status.FileNotFound) throw new FileNotFoundError(name);
    if (header.status === Status.GeneralError) {
      throw new ServerError(
        `the server answered "general error" (1003)${name ? ` for ${name}` : ""}`,
      );
    }
    throw new ProtocolError(`expected status ${expected}, got ${header.status}`);
  }
}
