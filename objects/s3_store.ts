/**
 * An object store in an S3 bucket, under a key prefix: the object `packs/3f/3f0a.pack` is the key
 * `PREFIX` + `packs/3f/3f0a.pack`. A `put` of bytes is one PUT; a `put` from a source is one PUT
 * of a buffer up to {@linkcode S3ObjectStoreOptions.partSize}, else a multipart upload completed
 * only once the source gave exactly its declared size (aborted otherwise): either way the object
 * appears whole or not at all, and S3 has it durably once the store answered. A `get` of a range
 * is a `Range` request; `stat` a HEAD; `list` reads ListObjectsV2 a page (1,000 keys) at a time.
 *
 * S3 lets `a` and `a/b` both be objects (a folder store refuses the second): callers never rely on
 * either. Keys under the prefix whose names are not valid object names are not objects: `list`
 * skips them.
 *
 * @example
 * ```ts ignore
 * import { S3Client } from "./s3/s3_client.ts";
 * import { S3ObjectStore } from "./s3_store.ts";
 *
 * const client = new S3Client({
 *   endpoint: "http://127.0.0.1:9000",
 *   bucket: "backups",
 *   pathStyle: true,
 *   credentials: { accessKeyId: "key", secretAccessKey: "secret" },
 * });
 * await client.ensureBucket();
 * const store = new S3ObjectStore({ client, prefix: "repo/" });
 * await store.put("index/0001", new Uint8Array([1, 2, 3]));
 * console.log(await store.get("index/0001", { offset: 1, length: 10 })); // Uint8Array [2, 3]
 * ```
 *
 * @module
 */
import {
  type ByteRange,
  checkByteRange,
  expectSourceEnd,
  type ObjectBody,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  type ObjectWriter,
} from "./object_store.ts";
import { checkObjectName, checkObjectPrefix, MAX_OBJECT_NAME_BYTES } from "./object_names.ts";
import type { S3Client } from "./s3/s3_client.ts";
import { S3Error } from "./s3/s3_error.ts";
import { putMultipart, readExactly } from "./_s3_multipart.ts";
import { readBody, readBodyInto } from "./_s3_body.ts";

/** S3's longest key, in bytes. */
const MAX_KEY_BYTES = 1024;
/** S3's smallest part of a multipart upload (but the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's most parts in one multipart upload. */
const MAX_PARTS = 10_000;
const DEFAULT_PART_BYTES = 16 * 1024 * 1024;
const DEFAULT_PARTS_IN_FLIGHT = 4;
const HTTP_NOT_FOUND = 404;
const HTTP_RANGE_NOT_SATISFIABLE = 416;

/** Where an `S3ObjectStore` keeps its objects, and how it uploads. */
export interface S3ObjectStoreOptions {
  /** The client of the bucket (its bucket must exist: see `S3Client.ensureBucket`). */
  client: S3Client;
  /**
   * Put before every name to make its key (default `""`); usually ends with `/`. At most
   * 1,024 - {@linkcode MAX_OBJECT_NAME_BYTES} bytes, so that every key fits.
   */
  prefix?: string;
  /**
   * A `put` from a source of up to this many bytes is one PUT of a buffer this large at most;
   * a larger one is a multipart upload in parts of this size (default 16 MiB; at least 5 MiB,
   * S3's smallest part).
   */
  partSize?: number;
  /** Parts of one multipart upload sent at once (default 4): memory is this times `partSize`. */
  partsInFlight?: number;
}

/** The S3 object store; see the module comment. */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #partsInFlight: number;

  /**
   * A store over `options.client` under `options.prefix`. No request is made.
   *
   * @throws {RangeError} if the prefix is too long, the part size below 5 MiB, or the parts in
   *   flight not a positive integer.
   */
  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? "";
    this.#partSize = options.partSize ?? DEFAULT_PART_BYTES;
    this.#partsInFlight = options.partsInFlight ?? DEFAULT_PARTS_IN_FLIGHT;
    const prefixBytes = new TextEncoder().encode(this.#prefix).length;
    if (prefixBytes > MAX_KEY_BYTES - MAX_OBJECT_NAME_BYTES) {
      throw new RangeError(
        `prefix must be at most ${MAX_KEY_BYTES - MAX_OBJECT_NAME_BYTES} bytes, got ${prefixBytes}`,
      );
    }
    if (!Number.isSafeInteger(this.#partSize) || this.#partSize < MIN_PART_BYTES) {
      throw new RangeError(`partSize must be at least ${MIN_PART_BYTES}, got ${this.#partSize}`);
    }
    if (!Number.isSafeInteger(this.#partsInFlight) || this.#partsInFlight < 1) {
      throw new RangeError(`partsInFlight must be a positive integer, got ${this.#partsInFlight}`);
    }
  }

  /** The key prefix every name is put under. */
  get prefix(): string {
    return this.#prefix;
  }

  /** See {@linkcode ObjectStore.put}. */
  async put(name: string, body: ObjectBody): Promise<void> {
    checkObjectName(name);
    const key = this.#prefix + name;
    if (body instanceof Uint8Array) return await this.#client.put(key, body);
    const { source, size } = body;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`size must be a non-negative safe integer, got ${size}`);
    }
    if (size > this.#partSize * MAX_PARTS) {
      throw new RangeError(`size must be at most ${this.#partSize * MAX_PARTS}, got ${size}`);
    }
    if (size <= this.#partSize) {
      const bytes = new Uint8Array(size);
      await readExactly(source, bytes, name, size, 0);
      await expectSourceEnd(source, name, size);
      return await this.#client.put(key, bytes);
    }
    await putMultipart(this.#client, source, {
      name,
      key,
      size,
      partSize: this.#partSize,
      partsInFlight: this.#partsInFlight,
    });
  }

  /**
   * See {@linkcode ObjectStore.create}: the bytes wait in memory and go up with `put`
   * at the commit, so one PUT (or one multipart upload) makes the object appear whole.
   */
  create(name: string): Promise<ObjectWriter> {
    checkObjectName(name);
    let parts: Uint8Array[] = [];
    let size = 0;
    let ended = false;
    return Promise.resolve({
      write: (bytes) => {
        if (ended) return Promise.reject(new Error(`${name}: the writer has ended`));
        parts.push(bytes.slice());
        size += bytes.length;
        return Promise.resolve();
      },
      commit: async () => {
        if (ended) throw new Error(`${name}: the writer has ended`);
        ended = true;
        const body = new Uint8Array(size);
        let at = 0;
        for (const part of parts) at += (body.set(part, at), part.length);
        parts = [];
        await this.put(name, body);
      },
      abort: () => {
        ended = true;
        parts = [];
        return Promise.resolve();
      },
    });
  }

  /** See {@linkcode ObjectStore.get}: one GET, so one version of the object. */
  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectName(name);
    if (range) checkByteRange(range);
    const key = this.#prefix + name;
    if (range?.length === 0) {
      // A range of no bytes cannot be asked for: only whether the object exists.
      if (await this.#client.head(key) === undefined) throw new ObjectNotFoundError(name);
      return new Uint8Array(0);
    }
    const response = await this.#get(name, range);
    if (!response) return new Uint8Array(0);
    const bytes = await readBody(response, name);
    if (range && response.status === 200) {
      // The store ignored the range and sent the whole object.
      return bytes.subarray(range.offset, range.offset + range.length);
    }
    return bytes;
  }

  /**
   * The GET of `name` (a range of it, if given); undefined for a range past its end.
   *
   * @throws {ObjectNotFoundError} if there is no such object.
   */
  async #get(
    name: string,
    range?: { offset: number; length: number },
  ): Promise<Response | undefined> {
    const key = this.#prefix + name;
    let response: Response;
    try {
      response = range
        ? await this.#client.getRange(key, range.offset, range.length)
        : await this.#client.get(key);
    } catch (error) {
      if (error instanceof S3Error && error.status === HTTP_NOT_FOUND) {
        throw new ObjectNotFoundError(name, { cause: error });
      }
      throw error;
    }
    if (response.status === HTTP_RANGE_NOT_SATISFIABLE) {
      await response.body?.cancel();
      return undefined;
    }
    return response;
  }

  /**
   * See {@linkcode ObjectStore.readInto}: one ranged GET whose body is read straight into `target`
   * (no buffer of its own per read).
   */
  async readInto(name: string, offset: number, target: Uint8Array): Promise<number> {
    checkObjectName(name);
    checkByteRange({ offset, length: target.length });
    if (target.length === 0) {
      if (await this.#client.head(this.#prefix + name) === undefined) {
        throw new ObjectNotFoundError(name);
      }
      return 0;
    }
    const response = await this.#get(name, { offset, length: target.length });
    if (!response) return 0;
    if (response.status === 200) {
      // The store ignored the range and sent the whole object.
      const whole = await readBody(response, name);
      const part = whole.subarray(offset, offset + target.length);
      target.set(part);
      return part.length;
    }
    return await readBodyInto(response, name, target);
  }

  /** See {@linkcode ObjectStore.stat}. */
  async stat(name: string): Promise<{ size: number } | undefined> {
    checkObjectName(name);
    const size = await this.#client.head(this.#prefix + name);
    return size === undefined ? undefined : { size };
  }

  /** See {@linkcode ObjectStore.list}: one ListObjectsV2 page (up to 1,000 keys) at a time. */
  list(prefix: string): AsyncIterable<ObjectInfo> {
    checkObjectPrefix(prefix);
    return this.#list(prefix);
  }

  /** See {@linkcode ObjectStore.delete}. */
  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.#client.delete(this.#prefix + name);
  }

  async *#list(prefix: string): AsyncGenerator<ObjectInfo> {
    const cut = this.#prefix.length;
    for await (const page of this.#client.list(this.#prefix + prefix)) {
      for (const { key, size } of page) {
        const name = key.slice(cut);
        if (!isObjectName(name)) continue; // not written by a store: not an object
        yield { name, size };
      }
    }
  }
}

function isObjectName(name: string): boolean {
  try {
    checkObjectName(name);
    return true;
  } catch {
    return false;
  }
}
