/**
 * The S3 backend's object keys (pure). Each version of a file is one record object whose key holds
 * its name and all its metadata, so one listing answers lists, entries and versions without reading
 * any object:
 *
 * ```text
 * PREFIX u/USER/NAME VERSION f MTIME MODE SHA256            the record; its bytes are the file
 * PREFIX u/USER/NAME VERSION z MTIME MODE SHA256 SIZE       its bytes are one zstd frame of the file
 * PREFIX u/USER/NAME VERSION c MTIME MODE SHA256 SIZE       its bytes list the file's chunks (BKLIST01)
 * PREFIX u/USER/NAME VERSION f MTIME MODE SHA256 SIZE DATA  the bytes are PREFIX d/USER/DATA
 * PREFIX u/USER/NAME VERSION d                              deleted here
 * ```
 *
 * A `z` record's SIZE is the file's (the frame decodes to exactly that many bytes) and SHA256 is
 * the file's; the record object is the compressed size. A `c` record's body is the chunk list
 * (`chunk_list.ts`) of the file's SIZE bytes, whose chunks are in packs under `PREFIX p/USER/`.
 * Servers that predate `z` (or `c`) pass such keys over as not records, so the servers of one
 * bucket are upgraded together (docs/storage.md).
 *
 * NAME is the name with `!` written `!"` and space written `!!`, then a space: no encoded name
 * contains a space and every encoded byte sorts above it, so keys sort as names do, bytewise, and a
 * name's records come together, newest first: VERSION is `2^53 - 1 - version id` in 14 hex digits,
 * so that the first key of a name is its current state, one key to list whatever its history.
 *
 * @module
 */

/** The longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Version ids are `storedMs * VERSION_TICKS + a random tick`: unique in practice, time-ordered. */
export const VERSION_TICKS = 1024;

/** What a record key says about one version. */
export type RecordFields =
  | {
    kind: "file";
    versionId: number;
    mtimeMs: number;
    mode: number | null;
    sha256: Uint8Array;
    /** Where the bytes are when not in the record itself. */
    data?: { size: number; dataId: string };
    /** Set when the record's bytes are one zstd frame of the file's `size` bytes (kind `z`). */
    zstd?: { size: number };
    /** Set when the record's bytes are the chunk list of the file's `size` bytes (kind `c`). */
    chunks?: { size: number };
  }
  | { kind: "deleted"; versionId: number };

const encoder = new TextEncoder();

/**
 * Encodes a name so that encoded names sort as the names do and contain no space.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeName("a b!c"), 'a!!b!"c');
 * assert.equal(decodeName(encodeName("a b!c")), "a b!c");
 * ```
 */
export function encodeName(name: string): string {
  return name.replace(/[ !]/g, (c) => c === " " ? "!!" : '!"');
}

/** The inverse of `encodeName`. */
export function decodeName(encoded: string): string {
  return encoded.replace(/!(.)/g, (_, c: string) => c === "!" ? " " : "!");
}

/** The folder of every user's records. */
export function recordsRoot(prefix: string): string {
  return `${prefix}u/`;
}

/** The folder of a user's records. */
export function userRecordsPrefix(prefix: string, userId: number): string {
  return `${recordsRoot(prefix)}${userId}/`;
}

/** The prefix of the records of `name` (of its versions only, not of names below it). */
export function nameRecordsPrefix(prefix: string, userId: number, name: string): string {
  return `${userRecordsPrefix(prefix, userId)}${encodeName(name)} `;
}

/** The key of a data object. */
export function dataKey(prefix: string, userId: number, dataId: string): string {
  return `${prefix}d/${userId}/${dataId}`;
}

/** The folder of a user's packs, as an object name (below the store's prefix): `p/USER/`. */
export function packsFolder(userId: number): string {
  return `p/${userId}/`;
}

/** The folder of a user's index objects, as an object name: `x/USER/`. */
export function indexFolder(userId: number): string {
  return `x/${userId}/`;
}

/** The folder of a user's data objects. */
export function userDataPrefix(prefix: string, userId: number): string {
  return `${prefix}d/${userId}/`;
}

/**
 * A record's key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const key = recordKey("site1/", 7, "my doc", {
 *   kind: "file", versionId: 0x1234, mtimeMs: 1000, mode: 0o644, sha256: new Uint8Array(32),
 * });
 * assert.equal(key, "site1/u/7/my!!doc 1fffffffffedcb f 1000 420 " + "A".repeat(43));
 * assert.deepEqual(parseRecordKey(key.slice("site1/u/7/".length)).fields.versionId, 0x1234);
 * ```
 */
export function recordKey(prefix: string, userId: number, name: string, fields: RecordFields) {
  return nameRecordsPrefix(prefix, userId, name) + fieldsText(fields);
}

/** The UTF-8 length of the longest record key `name` can have: what must fit in `MAX_KEY_BYTES`. */
export function longestRecordKeyBytes(prefix: string, userId: number, name: string): number {
  const longest = fieldsText({
    kind: "file",
    versionId: 0,
    mtimeMs: -Number.MAX_SAFE_INTEGER,
    mode: 0xffffffff,
    sha256: new Uint8Array(32),
    data: { size: Number.MAX_SAFE_INTEGER, dataId: "x".repeat(DATA_ID_MAX) },
  });
  return encoder.encode(nameRecordsPrefix(prefix, userId, name) + longest).length;
}

/** The longest server tag: with a dot and a UUID, a data id fits in `DATA_ID_MAX`. */
export const SERVER_TAG_MAX = 63;
/** The longest data id (server tag, a dot and a UUID). */
export const DATA_ID_MAX = SERVER_TAG_MAX + 1 + 36;

/**
 * Reads a record key, given without its user's prefix.
 *
 * @throws {Error} if it is not a record key.
 */
export function parseRecordKey(rest: string): { name: string; fields: RecordFields } {
  const space = rest.indexOf(" ");
  const parts = rest.slice(space + 1).split(" ");
  const versionId = Number.MAX_SAFE_INTEGER - parseInt(parts[0], 16);
  if (space < 0 || !/^[0-9a-f]{14}$/.test(parts[0])) throw new Error(`not a record key: ${rest}`);
  const name = decodeName(rest.slice(0, space));
  if (parts[1] === "d" && parts.length === 2) {
    return { name, fields: { kind: "deleted", versionId } };
  }
  const inline = parts[1] === "f" && parts.length === 5;
  const withData = parts[1] === "f" && parts.length === 7;
  const compressed = parts[1] === "z" && parts.length === 6;
  const chunked = parts[1] === "c" && parts.length === 6;
  if ((!inline && !withData && !compressed && !chunked) || !/^[A-Za-z0-9_-]{43}$/.test(parts[4])) {
    throw new Error(`not a record key: ${rest}`);
  }
  const sha256 = Uint8Array.from(
    atob(parts[4].replace(/-/g, "+").replace(/_/g, "/")),
    (c) => c.charCodeAt(0),
  );
  const fields: RecordFields = {
    kind: "file",
    versionId,
    mtimeMs: Number(parts[2]),
    mode: parts[3] === "-" ? null : Number(parts[3]),
    sha256,
  };
  if (withData) fields.data = { size: sizeField(parts[5], rest), dataId: parts[6] };
  if (compressed) fields.zstd = { size: sizeField(parts[5], rest) };
  if (chunked) fields.chunks = { size: sizeField(parts[5], rest) };
  if (sha256.length !== 32 || !Number.isSafeInteger(fields.mtimeMs)) {
    throw new Error(`not a record key: ${rest}`);
  }
  return { name, fields };
}

/** A SIZE field: decimal digits, a safe integer. */
function sizeField(text: string, rest: string): number {
  const size = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(size)) {
    throw new Error(`not a record key: ${rest}`);
  }
  return size;
}

function fieldsText(fields: RecordFields): string {
  const version = (Number.MAX_SAFE_INTEGER - fields.versionId).toString(16).padStart(14, "0");
  if (fields.kind === "deleted") return `${version} d`;
  const sha = btoa(String.fromCharCode(...fields.sha256)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
  const mode = fields.mode === null ? "-" : String(fields.mode);
  if (fields.zstd) return `${version} z ${fields.mtimeMs} ${mode} ${sha} ${fields.zstd.size}`;
  if (fields.chunks) return `${version} c ${fields.mtimeMs} ${mode} ${sha} ${fields.chunks.size}`;
  const data = fields.data ? ` ${fields.data.size} ${fields.data.dataId}` : "";
  return `${version} f ${fields.mtimeMs} ${mode} ${sha}${data}`;
}
