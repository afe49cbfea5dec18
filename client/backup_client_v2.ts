import { createHash } from "node:crypto";
import { ProtocolError } from "../protocol/errors.ts";
import { compareBytes } from "../protocol/list.ts";
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2, type RequestV2 } from "../protocol/v2/requests.ts";
import type { Entry, VersionInfo } from "../protocol/v2/responses.ts";
import { AdaptiveFile } from "../io/adaptive_file.ts";
import { type ByteSink, type ByteSource, writeAll } from "../io/byte_stream.ts";
import { ClientWire } from "./client_wire.ts";
import { writeThenRename } from "./partial_file.ts";
import { applyStoredMetadata } from "./stored_metadata.ts";
import { readEntries } from "./session_frames.ts";
import { IntegrityError, ServerRefusedError } from "./client_errors.ts";
import type { ClientKey } from "./keys.ts";
import { openTransport, type TransportOptions } from "./transport.ts";
import { listBudget } from "./list_bounds.ts";
import { SessionV2 } from "./session_v2.ts";
import type { RetrieveOptions, TransferOptions, UploadMetadata } from "./transfer_options.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";

// mod.ts exports the options of this client's transfers from here, beside the client.
export type { RetrieveOptions, UploadMetadata } from "./transfer_options.ts";

/** A request without its user id, which the client fills in. */
type WithoutUser<T> = T extends unknown ? Omit<T, "userId"> : never;

/** Options of `BackupClientV2.connect`. */
export interface BackupClientV2Options extends TransportOptions {
  /** The user id to authenticate as. */
  userId: number;
  /** The key that proves it. */
  key: ClientKey;
  /** How long to wait for any byte of an answer; 0: forever. @default 60000 */
  timeoutMs?: number;
}

/**
 * A client of protocol version 2 over one connection (TCP or TLS): authenticated with an Ed25519
 * key, every upload sent with its SHA-256, every download checked against the server's. Nothing
 * the server sends is trusted: names are validated as the server validates them, an answer for
 * another name is a protocol error, and a download whose digest differs is removed.
 *
 * @example
 * ```ts ignore
 * import { BackupClientV2 } from "./backup_client_v2.ts";
 * import { loadKey } from "./keys.ts";
 * const client = await BackupClientV2.connect({ userId: 77, key: await loadKey("key"), tls: true });
 * await client.backupFile("notes/todo.txt", "./todo.txt");
 * client.close();
 * ```
 */
export class BackupClientV2 {
  readonly #options: BackupClientV2Options & { hostname: string; port: number };
  readonly #wire: ClientWire;
  readonly #session: SessionV2;

  private constructor(options: BackupClientV2Options) {
    this.#options = {
      ...options,
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_PORT,
    };
    this.#wire = new ClientWire(() => this.#open(), { timeoutMs: options.timeoutMs });
    this.#session = new SessionV2(this.#wire, options);
  }

  /**
   * Connects and authenticates (the Auth answer is read with the first request's).
   *
   * @throws {ServerRefusedError} if the server refuses the key; {TlsError}; network errors.
   */
  static async connect(options: BackupClientV2Options): Promise<BackupClientV2> {
    const client = new BackupClientV2(options);
    await client.#wire.connect();
    return client;
  }

  /** The user id requests act for. */
  get userId(): number {
    return this.#options.userId;
  }

  /** True if the server said this account may not delete or replace files. */
  get appendOnly(): boolean {
    return this.#session.appendOnly;
  }

  /** True once the server has accepted the key for this user id (with a first request's answer). */
  get authenticated(): boolean {
    return this.#session.authenticated;
  }

  /** Backs up a local file with its modification time and mode; resolves its size. */
  async backupFile(name: string, path: string, options?: TransferOptions): Promise<number> {
    return await this.#wire.exchange(true, async () => {
      using file = await Deno.open(path, { read: true });
      const info = await file.stat();
      const metadata = {
        mtimeMs: info.mtime?.getTime(),
        mode: info.mode === null ? null : info.mode & 0o7777,
      };
      await this.#sendBackup(name, new AdaptiveFile(file), info.size, metadata, options);
      return info.size;
    });
  }

  /** Backs up `size` bytes from `source`. @throws {ServerRefusedError} if refused. */
  async backup(
    name: string,
    source: ByteSource,
    size: number,
    metadata: UploadMetadata = {},
    options?: TransferOptions,
  ): Promise<void> {
    await this.#wire.exchange(false, () => this.#sendBackup(name, source, size, metadata, options));
  }

  /**
   * Retrieves a file into `sink`, checking its SHA-256 at the end; resolves its information.
   *
   * @throws {FileNotFoundError}; {IntegrityError} if the bytes do not match (they are in the sink).
   */
  async retrieve(
    name: string,
    sink: ByteSink,
    options: RetrieveOptions = {},
  ): Promise<VersionInfo> {
    return await this.#wire.exchange(true, () => this.#receiveFile(name, sink, options));
  }

  /**
   * Retrieves a file into `path`, replacing it only once all bytes are in and their SHA-256 is the
   * server's, with its stored modification time and permission bits. Resolves its size.
   *
   * @throws {IntegrityError} (nothing is left behind); {FileNotFoundError}.
   */
  async retrieveToFile(name: string, path: string, options: RetrieveOptions = {}): Promise<number> {
    const info = await this.#wire.exchange(true, () =>
      writeThenRename(
        path,
        (file) => this.#receiveFile(name, new AdaptiveFile(file), options),
        applyStoredMetadata,
      ));
    return info.size;
  }

  /** Deletes a file. @throws {FileNotFoundError}; {ServerRefusedError} on an append-only account. */
  async delete(name: string): Promise<void> {
    await this.#wire.exchange(true, async () => {
      await this.#wire.send(this.#encode({ op: OpV2.Delete, name }));
      await this.#session.readExpected(StatusV2.Done, name, `delete of ${name}`);
    });
  }

  /** The names of the files stored now, in byte order (those starting with `prefix` if given). */
  async list(prefix = ""): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of this.entries({ prefix })) names.push(entry.name);
    return names;
  }

  /**
   * The files under `prefix` with their metadata and SHA-256, now or as they were at `atMs`,
   * streamed in byte order of their names.
   *
   * @throws {ProtocolError} if the server sends an invalid, unordered or out-of-prefix name.
   */
  async *entries(query: { prefix?: string; atMs?: number } = {}): AsyncGenerator<Entry> {
    const prefix = query.prefix ?? "";
    const request = this.#encode({ op: OpV2.List, prefix, atMs: query.atMs ?? 0 });
    const entries = await this.#wire.exchange(true, async () => {
      await this.#wire.send(request);
      await this.#session.readExpected(StatusV2.EntriesSent, "", "list");
      const budget = listBudget();
      return readEntries(this.#wire, (name) => {
        if (!name.startsWith(prefix)) throw new ProtocolError(`listed ${name} outside ${prefix}`);
        budget(name);
      }, true);
    });
    let finished = false;
    try {
      yield* entries;
      finished = true;
    } finally {
      // Entries left unread would be taken for the next answer: the connection cannot go on.
      if (!finished) this.#wire.close();
    }
  }

  /** Every stored version of `name`, oldest first. @throws {FileNotFoundError} if none. */
  async versions(name: string): Promise<VersionInfo[]> {
    return await this.#wire.exchange(true, async () => {
      await this.#wire.send(this.#encode({ op: OpV2.Versions, name }));
      await this.#session.readExpected(StatusV2.EntriesSent, name, `versions of ${name}`);
      const infos: VersionInfo[] = [];
      const budget = listBudget();
      for await (
        const entry of readEntries(this.#wire, (listed) => {
          if (listed !== name) {
            throw new ProtocolError(`asked for ${name}, got versions of ${listed}`);
          }
          budget(listed);
        }, false)
      ) infos.push(entry.info);
      return infos;
    });
  }

  /** Closes the connection. */
  close(): void {
    this.#wire.close();
  }

  /** Makes sure it is closed, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Connects, says Hello, signs the nonce and sends Auth without waiting for its answer. */
  async #open(): Promise<Deno.Conn> {
    const conn = await openTransport(this.#options);
    this.#wire.attach(conn);
    await this.#session.signIn();
    return conn;
  }

  #encode(request: WithoutUser<RequestV2>): Uint8Array {
    return encodeRequestV2({ ...request, userId: this.#options.userId } as RequestV2);
  }

  async #sendBackup(
    name: string,
    source: ByteSource,
    size: number,
    metadata: UploadMetadata,
    options?: TransferOptions,
  ): Promise<void> {
    const head = this.#encode({
      op: OpV2.Backup,
      name,
      size,
      mtimeMs: metadata.mtimeMs ?? Date.now(),
      mode: metadata.mode ?? null,
    });
    const hash = createHash("sha256");
    await this.#wire.sendOrRefused(
      async () => {
        await this.#wire.sendPayload(head, source, size, (chunk, done) => {
          hash.update(chunk);
          options?.onProgress?.(done, size);
        }, name);
        await this.#wire.send(new Uint8Array(hash.digest()), false);
      },
      async () => {
        const answer = await this.#session.read();
        if (answer.status !== StatusV2.Refused) return undefined;
        return new ServerRefusedError(answer.code, answer.message, `backup of ${name}`);
      },
    );
    await this.#session.readExpected(StatusV2.Done, name, `backup of ${name}`);
  }

  async #receiveFile(name: string, sink: ByteSink, options: RetrieveOptions): Promise<VersionInfo> {
    await this.#wire.send(
      this.#encode({ op: OpV2.Retrieve, name, versionId: options.versionId ?? 0 }),
    );
    const response = await this.#session.readExpected(
      StatusV2.FileRestored,
      name,
      `retrieve of ${name}`,
    );
    const { info, name: answered } = response as { name: string; info: VersionInfo };
    if (answered !== name) {
      throw new ProtocolError(`asked for ${name}, the server sent ${answered}`);
    }
    if (options.versionId !== undefined && info.versionId !== options.versionId) {
      throw new ProtocolError(`asked for version ${options.versionId}, got ${info.versionId}`);
    }
    const hash = createHash("sha256");
    // A link's payload (its target) goes through as a file's does: the caller tells them apart.
    const target = options.through?.(sink, info);
    await this.#wire.receivePayload(info.size, async (chunk, done) => {
      hash.update(chunk);
      await writeAll(target ?? sink, chunk);
      options.onProgress?.(done, info.size);
    });
    if (compareBytes(new Uint8Array(hash.digest()), info.sha256) !== 0) {
      throw new IntegrityError(name);
    }
    await target?.finish();
    return info;
  }
}
