/**
 * The bottom of the repository: a store of named objects (bytes under a name) with five operations,
 * `put`, `get` (a byte range), `stat`, `list` (a prefix, in byte order) and `delete`, as restic's
 * backends have (`internal/backend/backend.go`). It knows nothing of users, files, versions or packs:
 * the repository above it does. `FolderStore` (`folder_store.ts`) keeps objects as files under a
 * folder; an S3 store keeps them in a bucket. `tests/_object_store_contract.ts` is what every store
 * must pass.
 *
 * Names are ASCII strings of segments joined by `/`, at most `MAX_OBJECT_NAME_BYTES` bytes
 * (`object_names.ts` holds the rules and their checks). Since names are ASCII, JavaScript's string
 * order is their byte order, the order `list` yields them in.
 *
 * Names form a tree: a name is never a folder of another (`a` and `a/b` never both exist). A store
 * may refuse such a `put` with {@linkcode ObjectNameConflictError} (a folder store must: `a` cannot
 * be a file and a folder at once) or allow it (S3 does); callers never rely on either.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import type { ByteSource } from "../io/byte_stream.ts";

/** The base of every error an object store throws on purpose. */
export class ObjectStoreError extends BackupError {}

/** A name (or a prefix) outside the alphabet, too long, or with an empty, `.` or `..` segment. */
export class InvalidObjectNameError extends ObjectStoreError {
  /** The refused name, as given. */
  readonly objectName: string;

  /**
   * Builds the error.
   * @param objectName the refused name
   * @param reason what is wrong with it
   */
  constructor(objectName: string, reason: string) {
    super(`invalid object name ${JSON.stringify(objectName.slice(0, 300))}: ${reason}`);
    this.objectName = objectName;
  }
}

/** `get` of a name that holds no object. */
export class ObjectNotFoundError extends ObjectStoreError {
  /** The name that holds no object. */
  readonly objectName: string;

  /**
   * Builds the error.
   * @param objectName the name asked for
   */
  constructor(objectName: string, options?: ErrorOptions) {
    super(`no object named ${objectName}`, options);
    this.objectName = objectName;
  }
}

/** A `put` whose name is a folder of other objects, or under a name that is an object. */
export class ObjectNameConflictError extends ObjectStoreError {
  /** The name that could not be written. */
  readonly objectName: string;

  /**
   * Builds the error.
   * @param objectName the name that could not be written
   * @param reason which other object is in the way
   */
  constructor(objectName: string, reason: string) {
    super(`cannot put ${objectName}: ${reason}`);
    this.objectName = objectName;
  }
}

/** A `put` whose source ended before, or went on after, the size it declared. */
export class ObjectSizeMismatchError extends ObjectStoreError {
  /** The declared size. */
  readonly expected: number;
  /** The bytes the source gave: fewer, or (when it went on) `expected + 1`. */
  readonly got: number;

  /**
   * Builds the error.
   * @param objectName the object being written (it was not written)
   * @param expected the declared size
   * @param got how many bytes the source gave
   */
  constructor(objectName: string, expected: number, got: number) {
    super(
      `object ${objectName}: source declared ${expected} bytes, gave ${
        got > expected ? "more" : got
      }`,
    );
    this.expected = expected;
    this.got = got;
  }
}

/**
 * The store's own tree holds something it never writes where an object or a folder should be: a
 * symbolic link or a special file. It is refused, never followed.
 */
export class UnsafeObjectError extends ObjectStoreError {}

/**
 * What `put` writes: bytes in memory, or a source read to its end, which must give exactly `size`
 * bytes (declared first, so that a store can send a length ahead, as an S3 PUT must).
 */
export type ObjectBody = Uint8Array | { source: ByteSource; size: number };

/** An object being written whose size is not known ahead; see {@linkcode ObjectStore.create}. */
export interface ObjectWriter {
  /** Adds bytes (the caller may reuse them once this resolves). */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Makes the object visible under its name, atomically and durably, as `put` does.
   *
   * @throws what `put` throws. The object may have appeared all the same (a folder's fsync that
   *   fails after the rename): a caller that drops it deletes the name.
   */
  commit(): Promise<void>;
  /** Drops what was written; nothing becomes visible. Safe after `commit` failed, or twice. */
  abort(): Promise<void>;
}

/** An object opened for many reads (`ObjectStore.openReader`); see there. */
export interface ObjectReader {
  /** The object's size when it was opened. */
  readonly size: number;
  /**
   * Reads the object's bytes from `offset` into `target`, synchronously (a local file: no wait
   * worth an event-loop turn for a blob's bytes).
   *
   * @returns how many bytes came: fewer than `target.length` only if the object ends first.
   * @throws {Error} once the reader is closed.
   */
  readSync(offset: number, target: Uint8Array): number;
  /** Lets the object go; again is a no-op. */
  close(): void;
}

/** A byte range of an object. */
export interface ByteRange {
  /** The first byte, from 0. At or past the end, the range is empty. */
  offset: number;
  /** How many bytes at most; a range past the end stops at the end. */
  length: number;
}

/** What `stat` and `list` say of an object. */
export interface ObjectInfo {
  /** The object's name. */
  name: string;
  /** Its size in bytes. */
  size: number;
}

/**
 * A store of named objects. Every method checks its name first and throws
 * {@linkcode InvalidObjectNameError} before any I/O; every method may also throw the store's I/O
 * errors (`Deno.errors.*`, an S3 error) as they are.
 *
 * @example
 * ```ts
 * import { FolderStore } from "./folder_store.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * const store = await FolderStore.open({ root });
 * await store.put("packs/00/a.pack", new TextEncoder().encode("hello, world"));
 * assert.equal(new TextDecoder().decode(await store.get("packs/00/a.pack", { offset: 7, length: 5 })), "world");
 * assert.deepEqual(await store.stat("packs/00/a.pack"), { size: 12 });
 * assert.deepEqual(await Array.fromAsync(store.list("packs/")), [{ name: "packs/00/a.pack", size: 12 }]);
 * await store.delete("packs/00/a.pack");
 * assert.equal(await store.stat("packs/00/a.pack"), undefined);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface ObjectStore {
  /**
   * Writes an object, atomically and durably: once this resolves the whole new object survives a
   * crash; until then (and if it rejects) readers see the old object, or none, never a part. An
   * existing object under the name is replaced.
   *
   * @throws {ObjectSizeMismatchError} if a source gives another count of bytes than it declared.
   * @throws {ObjectNameConflictError} if the store cannot hold both this name and another one.
   * @throws {UnsafeObjectError} if a link or special file is in the way.
   */
  put(name: string, body: ObjectBody): Promise<void>;

  /**
   * Starts writing an object whose size is not known ahead (a pack as it fills): nothing is
   * visible until `commit`, which is atomic and durable as `put` is; after `abort`, or a crash,
   * nothing ever is.
   *
   * @throws {ObjectNameConflictError} if a folder of the name is an object.
   * @throws {UnsafeObjectError} if a link or special file is in the way.
   */
  create(name: string): Promise<ObjectWriter>;

  /**
   * Reads an object, or the part of it in `range`, into memory: memory is bounded by the range
   * asked for, so read large objects (packs) by range. One call reads one version of the object,
   * whatever `put`s run meanwhile; two calls may see two versions.
   *
   * @returns the bytes, fewer than `range.length` if the object ends first (none past its end).
   * @throws {ObjectNotFoundError} if there is no object under the name.
   * @throws {RangeError} if `offset` or `length` is not a non-negative safe integer.
   * @throws {UnsafeObjectError} if a link or special file is in its place.
   */
  get(name: string, range?: ByteRange): Promise<Uint8Array>;

  /**
   * Optional: reads the object's bytes from `offset` into `target` (a buffer the caller reuses, so
   * that large reads allocate nothing), as `get` of that range would. Stores without it are read
   * with `get`.
   *
   * @returns how many bytes came: fewer than `target.length` only if the object ends first.
   * @throws what `get` throws.
   */
  readInto?(name: string, offset: number, target: Uint8Array): Promise<number>;

  /**
   * Optional: opens an object for many reads (a pack read blob by blob), with the checks `get`
   * makes. The reader reads the object as it was opened, whatever `put`s or deletes come after;
   * the caller closes it. Stores without it are read with `get`.
   *
   * @throws what `get` throws.
   */
  openReader?(name: string): Promise<ObjectReader>;

  /**
   * The object's size, or `undefined` if there is none (a name that is only a folder of other
   * objects included).
   *
   * @throws {UnsafeObjectError} if a link or special file is in its place.
   */
  stat(name: string): Promise<{ size: number } | undefined>;

  /**
   * Every object whose name starts with `prefix` (a string prefix, not only whole segments: `"a"`
   * matches `a`, `a/b` and `ab`), in byte order of names, read lazily a page (or folder) at a time:
   * memory does not grow with the number of objects. Objects put or deleted while the listing runs
   * may or may not be listed. Stopping early (`break`) releases everything.
   *
   * @throws {InvalidObjectNameError} if `prefix` cannot start a valid name (at the call, or at the
   *   first step of the iteration).
   * @throws {UnsafeObjectError} if a link or special file is met.
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /**
   * Removes an object, durably. Removing a missing object is not an error (so that garbage
   * collection can run again after a crash).
   *
   * @throws {UnsafeObjectError} if a link or special file is in its place.
   */
  delete(name: string): Promise<void>;
}

/**
 * Checks a byte range.
 *
 * @throws {RangeError} if `offset` or `length` is not a non-negative safe integer.
 */
export function checkByteRange(range: ByteRange): void {
  for (const [field, value] of Object.entries({ offset: range.offset, length: range.length })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${field} must be a non-negative safe integer, got ${value}`);
    }
  }
}

/**
 * Checks that `source` has no byte past its declared `size` (a put takes exactly that many).
 *
 * @throws {ObjectSizeMismatchError} if it has more.
 */
export async function expectSourceEnd(
  source: ByteSource,
  name: string,
  size: number,
): Promise<void> {
  const extra = await source.read(new Uint8Array(1));
  if (extra !== null && extra > 0) throw new ObjectSizeMismatchError(name, size, size + 1);
}
