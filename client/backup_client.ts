import { DEFAULT_HOSTNAME, DEFAULT_PORT, Op, Status } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { ServerError } from "./client_errors.ts";
import { ListNames } from "./list_names.ts";
import { checkUint32, encodeRequestHeader } from "../protocol/request.ts";
import { parseResponseHeader, type ResponseHeader } from "../protocol/response.ts";
import { AdaptiveFile } from "../io/adaptive_file.ts";
import {
  type ByteSink,
  type ByteSource,
  sinkFromWritable,
  sourceFromReadable,
  writeAll,
} from "../io/byte_stream.ts";
import { errorForStatus } from "./status_errors.ts";
import { ClientWire, type IfSilent } from "./client_wire.ts";
import { writeThenRename } from "./partial_file.ts";
import { openTransport, type TransportOptions } from "./transport.ts";
import { MAX_LIST_BYTES } from "./list_bounds.ts";
import type { TransferOptions } from "./transfer_options.ts";

// mod.ts exports the transfer options from here, beside the client.
export type { TransferOptions } from "./transfer_options.ts";

/** Options of `BackupClient.connect`. */
export interface BackupClientOptions extends TransportOptions {
  /** The user id every request acts for (0..2^32-1). */
  userId: number;
  /** How long to wait for any byte of an answer; 0: forever. @default 60000 */
  timeoutMs?: number;
}

/**
 * Some servers wait for a list request with a name length (8 bytes) and never answer the 6-byte
 * one; a server that follows the protocol answers a list within milliseconds.
 */
export const LIST_FALLBACK_MS = 1000;

/**
 * A client of the backup protocol, version 1, over one connection (TCP, or TLS to a server that
 * allows version 1 there), reused for every request.
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
  readonly #userId: number;
  readonly #wire: ClientWire;

  private constructor(options: BackupClientOptions) {
    checkUint32("user id", options.userId);
    this.#userId = options.userId;
    const transport = {
      ...options,
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_PORT,
    };
    this.#wire = new ClientWire(() => openTransport(transport), {
      timeoutMs: options.timeoutMs,
      freshAfterErrorAnswer: true,
    });
  }

  /**
   * Connects to a server.
   *
   * @throws {Deno.errors.ConnectionRefused} and other network errors if the server cannot be reached.
   */
  static async connect(options: BackupClientOptions): Promise<BackupClient> {
    const client = new BackupClient(options);
    await client.#wire.connect();
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
    return await this.#wire.exchange(true, async () => {
      using file = await Deno.open(path, { read: true });
      const { size } = await file.stat();
      await this.#sendBackup(name, new AdaptiveFile(file), size, options);
      return size;
    });
  }

  /**
   * Backs up `size` bytes read from `source` (a `ReadableStream` or anything with `read(buffer)`).
   * If the upload fails, a `ReadableStream` source is cancelled.
   *
   * @throws {ServerError} if the server refused it; {Error} if the source ends before `size` bytes.
   */
  async backup(
    name: string,
    source: ReadableStream<Uint8Array> | ByteSource,
    size: number,
    options?: TransferOptions,
  ): Promise<void> {
    if (!(source instanceof ReadableStream)) {
      await this.#wire.exchange(false, () => this.#sendBackup(name, source, size, options));
      return;
    }
    const streamSource = sourceFromReadable(source);
    try {
      await this.#wire.exchange(false, () => this.#sendBackup(name, streamSource, size, options));
    } catch (error) {
      // The caller's stream is given back cancelled, not left locked half read.
      await streamSource.cancel().catch(() => {});
      throw error;
    }
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
      return await this.#wire.exchange(true, () => this.#receiveFile(name, sink, options));
    }
    const streamSink = sinkFromWritable(sink);
    const size = await this.#wire.exchange(
      true,
      () => this.#receiveFile(name, streamSink, options),
    );
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
    return await this.#wire.exchange(
      true,
      () =>
        writeThenRename(path, (file) => this.#receiveFile(name, new AdaptiveFile(file), options)),
    );
  }

  /** Deletes `name`. @throws {FileNotFoundError} if the server has no such file. */
  async delete(name: string): Promise<void> {
    await this.#wire.exchange(true, async () => {
      await this.#wire.send(encodeRequestHeader({ userId: this.#userId, op: Op.Delete, name }));
      this.#expect(await this.#readHeader(), Status.Done, name);
    });
  }

  /**
   * The user's file names, in the order the server sent them (byte order, by the protocol); empty
   * if the user has none. Each name is checked as the server checks names.
   *
   * @throws {ProtocolError} for a list larger than `MAX_LIST_BYTES` or holding an invalid name.
   */
  async list(): Promise<string[]> {
    return await this.#wire.exchange(true, async () => {
      await this.#wire.send(encodeRequestHeader({ userId: this.#userId, op: Op.List }));
      const header = await this.#readHeader({
        ms: LIST_FALLBACK_MS,
        then: () => {
          // The two bytes a server that does not follow the protocol waits for; it never sees
          // them otherwise, and this connection is not used again.
          this.#wire.send(new Uint8Array(2)).catch(() => {});
          this.#wire.doNotReuse();
        },
      });
      if (header.status === Status.NoFiles) {
        this.#wire.doNotReuse(); // some servers pad a 1002
        return [];
      }
      this.#expect(header, Status.ListSent, "");
      if (header.payloadSize > MAX_LIST_BYTES) {
        throw new ProtocolError(
          `the server declares a list of ${header.payloadSize} bytes; this client takes at most ` +
            MAX_LIST_BYTES,
        );
      }
      const names = new ListNames();
      await this.#wire.receivePayload(header.payloadSize, (chunk) => {
        names.push(chunk);
        return Promise.resolve();
      });
      return names.end();
    });
  }

  /** Closes the connection. The client may not be used afterwards. */
  close(): void {
    this.#wire.close();
  }

  /** Makes sure it is closed, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

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
    await this.#wire.sendOrRefused(
      () =>
        this.#wire.sendPayload(
          head,
          source,
          size,
          (_, done) => options?.onProgress?.(done, size),
          name,
        ),
      async () => {
        const answer = await this.#readHeader();
        if (answer.status !== Status.GeneralError) return undefined;
        return new ServerError(
          `the server refused the backup of ${name} (1003) and closed the connection: it may be ` +
            `over the server's size limit or the user's quota`,
        );
      },
    );
    this.#expect(await this.#readHeader(), Status.Done, name);
  }

  async #receiveFile(name: string, sink: ByteSink, options?: TransferOptions): Promise<number> {
    await this.#wire.send(encodeRequestHeader({ userId: this.#userId, op: Op.Retrieve, name }));
    const header = await this.#readHeader();
    this.#expect(header, Status.FileRestored, name);
    const size = header.payloadSize;
    const target = options?.through?.(sink, { size });
    await this.#wire.receivePayload(size, async (chunk, done) => {
      await writeAll(target ?? sink, chunk);
      options?.onProgress?.(done, size);
    });
    await target?.finish();
    return size;
  }

  async #readHeader(ifSilent?: IfSilent): Promise<ResponseHeader> {
    return (await this.#wire.readFrame(parseResponseHeader, "response header", ifSilent)).header;
  }

  /** Turns a status other than the expected one into the matching error. */
  #expect(header: ResponseHeader, expected: Status, name: string): void {
    if (header.status === expected) {
      // A 210 or 212 names the file it answers for: another name is not this request's answer.
      if (name !== "" && header.name !== name) {
        throw new ProtocolError(`asked about ${name}, the server answered about ${header.name}`);
      }
      return;
    }
    throw errorForStatus(header.status, name) ??
      new ProtocolError(`expected status ${expected}, got ${header.status}`);
  }
}
