/**
 * The tree: one folder of a snapshot, its entries and their metadata, as the client encodes it
 * (docs/snapshots_plan.md §1.2). The encoding is canonical (keys in a fixed order, entries sorted
 * by the UTF-8 bytes of their names, integers only), so an unchanged folder gives the same bytes
 * and so the same id; a decoder refuses anything else, so a tree read back is exactly one that
 * `encodeTree` could have written.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A tree's encoding is at most this many bytes (about 130,000 entries with short names). */
export const MAX_TREE_BYTES = 32 * 1024 * 1024;
/** A name is at most this many UTF-8 bytes (one path component). */
export const MAX_ENTRY_NAME_BYTES = 255;
/** A link's target is at most this many UTF-8 bytes. */
export const MAX_LINK_TARGET_BYTES = 4096;
/** Permission bits a mode may carry (setuid, setgid and sticky included). */
export const MODE_BITS = 0o7777;

/** A blob id as text: 64 lowercase hex digits (the SHA-256 of the blob's raw bytes). */
export type BlobIdHex = string;

/** What every entry has. */
export interface EntryMetadata {
  /** One path component: 1..255 UTF-8 bytes, no `/`, no NUL, not `.` or `..`. */
  name: string;
  /** Permission bits (at most `MODE_BITS`); the kind is `type`. */
  mode: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** Last access, ms since the epoch. */
  atimeMs: number;
  /** For the unchanged check only; never restored. */
  ctimeMs?: number;
  /** Numeric owner on the source system. */
  uid: number;
  /** Numeric group on the source system. */
  gid: number;
  /** The owner's name on the source system, where it had one. */
  user?: string;
  /** The group's name on the source system, where it had one. */
  group?: string;
  /** Inode number on the source (unchanged check, hard links). */
  inode: number;
  /** Device of the file system on the source (unchanged check, hard links). */
  device: number;
  /** Hard links to the inode on the source (files with `links > 1` may share content). */
  links: number;
}

/** A regular file: its chunks in order. */
export interface FileEntry extends EntryMetadata {
  /** A regular file. */
  type: "file";
  /** Bytes of the file: the sum of its chunks' raw lengths. */
  size: number;
  /** The ids of its chunks, in file order. */
  content: BlobIdHex[];
}

/** A folder: the id of its own tree. */
export interface DirEntry extends EntryMetadata {
  /** A folder. */
  type: "dir";
  /** The id of the folder's own tree. */
  subtree: BlobIdHex;
}

/** A symbolic link: its target, stored and restored as text, never followed. */
export interface SymlinkEntry extends EntryMetadata {
  /** A symbolic link. */
  type: "symlink";
  /** What the link points at, as text (1..4096 UTF-8 bytes). */
  target: string;
}

/** One entry of a tree. */
export type TreeEntry = FileEntry | DirEntry | SymlinkEntry;

/** A folder's entries, sorted by the UTF-8 bytes of their names. */
export interface Tree {
  /** The entries, each name once. */
  entries: TreeEntry[];
}

/** Bytes that are not a tree `encodeTree` could have written. */
export class CorruptTreeError extends BackupError {}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const HEX_ID = /^[0-9a-f]{64}$/;

/**
 * The canonical bytes of `tree`, its entries sorted by name.
 *
 * @throws {CorruptTreeError} if an entry breaks a rule (name, mode, integers, ids, two entries of
 *   one name) or the encoding is over `MAX_TREE_BYTES`.
 * @example
 * ```ts
 * import { decodeTree, encodeTree } from "./tree.ts";
 * import assert from "node:assert/strict";
 * const link = {
 *   name: "l", type: "symlink" as const, target: "a", mode: 0o777, mtimeMs: 1, atimeMs: 1,
 *   uid: 0, gid: 0, inode: 7, device: 1, links: 1,
 * };
 * const bytes = encodeTree({ entries: [link] });
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   '{"entries":[{"name":"l","type":"symlink","mode":511,"mtimeMs":1,"atimeMs":1,"uid":0,' +
 *     '"gid":0,"inode":7,"device":1,"links":1,"target":"a"}]}',
 * );
 * assert.deepEqual(decodeTree(bytes), { entries: [link] });
 * ```
 */
export function encodeTree(tree: Tree): Uint8Array {
  const entries = tree.entries.map(canonicalEntry);
  entries.sort((a, b) => compareBytes(a.nameBytes, b.nameBytes));
  for (let i = 1; i < entries.length; i++) {
    if (compareBytes(entries[i - 1].nameBytes, entries[i].nameBytes) === 0) {
      throw new CorruptTreeError(`two entries named ${JSON.stringify(entries[i].entry.name)}`);
    }
  }
  const bytes = encoder.encode(JSON.stringify({ entries: entries.map((e) => e.entry) }));
  if (bytes.length > MAX_TREE_BYTES) {
    throw new CorruptTreeError(`a tree of ${bytes.length} bytes; at most ${MAX_TREE_BYTES}`);
  }
  return bytes;
}

/**
 * The tree in `bytes`, which must be exactly what `encodeTree` writes for it.
 *
 * @throws {CorruptTreeError} otherwise.
 */
export function decodeTree(bytes: Uint8Array): Tree {
  if (bytes.length > MAX_TREE_BYTES) {
    throw new CorruptTreeError(`a tree of ${bytes.length} bytes; at most ${MAX_TREE_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new CorruptTreeError(`not a tree: ${(error as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.entries) || Object.keys(parsed).length !== 1) {
    throw new CorruptTreeError('not a tree: expected {"entries":[...]}');
  }
  const tree = { entries: parsed.entries as TreeEntry[] };
  // Re-encoding checks every rule and the canonical form at once.
  const again = encodeTree(tree);
  if (compareBytes(again, bytes) !== 0) {
    throw new CorruptTreeError("not in canonical form (order, keys or numbers differ)");
  }
  return tree;
}

/**
 * The blob ids `tree` names (file contents and subtrees), each once, in first-seen order: what a
 * tree blob is sent with, so that the server can collect garbage without reading trees.
 *
 * @example
 * ```ts
 * import { treeRefs } from "./tree.ts";
 * import assert from "node:assert/strict";
 * const base = { mode: 0o644, mtimeMs: 0, atimeMs: 0, uid: 0, gid: 0, inode: 1, device: 1, links: 1 };
 * const id = "ab".repeat(32);
 * const refs = treeRefs({ entries: [
 *   { ...base, name: "a", type: "file", size: 2, content: [id, id] },
 *   { ...base, name: "d", type: "dir", subtree: "cd".repeat(32) },
 * ] });
 * assert.deepEqual(refs, [id, "cd".repeat(32)]);
 * ```
 */
export function treeRefs(tree: Tree): BlobIdHex[] {
  const seen = new Set<BlobIdHex>();
  for (const entry of tree.entries) {
    if (entry.type === "file") { for (const id of entry.content) seen.add(id); }
    else if (entry.type === "dir") seen.add(entry.subtree);
  }
  return [...seen];
}

/** The keys every entry may have, and those of each type. */
const COMMON_KEYS = [
  "name",
  "type",
  "mode",
  "mtimeMs",
  "atimeMs",
  "ctimeMs",
  "uid",
  "gid",
  "user",
  "group",
  "inode",
  "device",
  "links",
];
const KEYS_OF_TYPE: Record<string, ReadonlySet<string>> = {
  file: new Set([...COMMON_KEYS, "size", "content"]),
  dir: new Set([...COMMON_KEYS, "subtree"]),
  symlink: new Set([...COMMON_KEYS, "target"]),
};

/** The entry's name as its errors quote it. */
function where(entry: TreeEntry): string {
  return JSON.stringify(entry.name);
}

function int(entry: TreeEntry, key: string, value: unknown, min = 0): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new CorruptTreeError(`${where(entry)}: ${key} is not an integer ≥ ${min}`);
  }
  return value as number;
}

function text(entry: TreeEntry, key: string, value: unknown, maxBytes: number): string {
  if (
    typeof value !== "string" || !value.isWellFormed() ||
    (value.length * 3 > maxBytes && encoder.encode(value).length > maxBytes)
  ) {
    throw new CorruptTreeError(
      `${where(entry)}: ${key} is not a string of at most ${maxBytes} bytes`,
    );
  }
  return value;
}

function blobId(entry: TreeEntry, key: string, value: unknown): string {
  if (typeof value !== "string" || !HEX_ID.test(value)) {
    throw new CorruptTreeError(
      `${where(entry)}: ${key} is not a blob id (64 lowercase hex digits)`,
    );
  }
  return value;
}

/**
 * Checks one entry and rebuilds it with its keys in the canonical order (no closures or sets made
 * per entry: trees of thousands of entries are encoded at every backup and decoded at restore).
 */
function canonicalEntry(entry: TreeEntry): { entry: TreeEntry; nameBytes: Uint8Array } {
  if (!isObject(entry)) throw new CorruptTreeError("an entry is not an object");
  const nameBytes = checkName(entry.name);
  const mode = int(entry, "mode", entry.mode);
  if (mode > MODE_BITS) throw new CorruptTreeError(`${where(entry)}: mode has bits beyond 0o7777`);
  const out: Record<string, unknown> = {
    name: entry.name,
    type: entry.type,
    mode,
    mtimeMs: int(entry, "mtimeMs", entry.mtimeMs, Number.MIN_SAFE_INTEGER),
    atimeMs: int(entry, "atimeMs", entry.atimeMs, Number.MIN_SAFE_INTEGER),
  };
  if (entry.ctimeMs !== undefined) {
    out.ctimeMs = int(entry, "ctimeMs", entry.ctimeMs, Number.MIN_SAFE_INTEGER);
  }
  out.uid = int(entry, "uid", entry.uid);
  out.gid = int(entry, "gid", entry.gid);
  if (entry.user !== undefined) out.user = text(entry, "user", entry.user, 255);
  if (entry.group !== undefined) out.group = text(entry, "group", entry.group, 255);
  out.inode = int(entry, "inode", entry.inode);
  out.device = int(entry, "device", entry.device);
  out.links = int(entry, "links", entry.links);
  if (entry.type === "file") {
    out.size = int(entry, "size", entry.size);
    if (!Array.isArray(entry.content)) {
      throw new CorruptTreeError(`${where(entry)}: content is not a list`);
    }
    out.content = entry.content.map((value) => blobId(entry, "content", value));
  } else if (entry.type === "dir") {
    out.subtree = blobId(entry, "subtree", entry.subtree);
  } else if (entry.type === "symlink") {
    out.target = text(entry, "target", entry.target, MAX_LINK_TARGET_BYTES);
    if (out.target === "") throw new CorruptTreeError(`${where(entry)}: an empty link target`);
  } else {
    throw new CorruptTreeError(`${where(entry)}: unknown type ${JSON.stringify(entry.type)}`);
  }
  const allowed = KEYS_OF_TYPE[entry.type];
  for (const key of Object.keys(entry)) {
    if (!allowed.has(key) && (entry as unknown as Record<string, unknown>)[key] !== undefined) {
      throw new CorruptTreeError(`${where(entry)}: unknown key ${JSON.stringify(key)}`);
    }
  }
  return { entry: out as unknown as TreeEntry, nameBytes };
}

/** A name's UTF-8 bytes, once it is known to be one path component. */
function checkName(name: unknown): Uint8Array {
  if (typeof name !== "string") throw new CorruptTreeError("an entry's name is not a string");
  const bytes = encoder.encode(name);
  if (
    bytes.length === 0 || bytes.length > MAX_ENTRY_NAME_BYTES || name === "." || name === ".." ||
    name.includes("/") || name.includes("\0") || !name.isWellFormed()
  ) {
    throw new CorruptTreeError(`${JSON.stringify(name)} is not a name of one path component`);
  }
  return bytes;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Bytewise order of two byte strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
