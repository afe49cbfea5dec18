/**
 * Builds snapshots by hand for the restorer's tests: entries with metadata, trees encoded with
 * `encodeTree` and stored in a `MemoryBlobs`, chunks stored as data blobs. Also a source that does
 * not check ids (a broken or hostile one), for what a checking source cannot produce (a loop).
 *
 * @module
 */
import {
  type DirEntry,
  encodeTree,
  type FileEntry,
  type SymlinkEntry,
  type TreeEntry,
  treeRefs,
} from "../protocol/v3/tree.ts";
import type { BlobId, BlobKind, BlobSource } from "../client/snapshot/blobs.ts";
import { BlobUnavailableError } from "../client/snapshot/blobs.ts";
import { blobIdOf, MemoryBlobs } from "./_memory_blobs.ts";

/** Metadata every entry needs; `inode` is unique per call unless given. */
export type Meta = Partial<Omit<FileEntry, "type" | "name" | "content" | "size">>;

let nextInode = 1000;
const encoder = new TextEncoder();

/** A snapshot under construction. */
export class TreeBuilder {
  /** @param blobs where chunks and trees go */
  constructor(readonly blobs = new MemoryBlobs()) {}

  /** Stores `bytes` as a data chunk; returns its id. */
  chunk(bytes: Uint8Array | string): BlobId {
    const raw = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    const id = blobIdOf(raw);
    this.blobs.blobs.set(id, { kind: "data", raw });
    return id;
  }

  /** A file whose content is `chunks` in order (each stored). */
  file(name: string, chunks: Array<Uint8Array | string>, meta: Meta = {}): FileEntry {
    const content = chunks.map((c) => this.chunk(c));
    const size = chunks.reduce(
      (n, c) => n + (typeof c === "string" ? encoder.encode(c).length : c.length),
      0,
    );
    return { ...base(meta, 0o644), name, type: "file", size, content };
  }

  /** A folder holding `entries` (its tree stored). */
  dir(name: string, entries: TreeEntry[], meta: Meta = {}): DirEntry {
    return { ...base(meta, 0o755), name, type: "dir", subtree: this.tree(entries) };
  }

  /** A symbolic link. */
  link(name: string, target: string, meta: Meta = {}): SymlinkEntry {
    return { ...base(meta, 0o777), name, type: "symlink", target };
  }

  /** Stores the tree of `entries`; returns its id. */
  tree(entries: TreeEntry[]): BlobId {
    const tree = { entries };
    return this.raw(encodeTree(tree), treeRefs(tree));
  }

  /** Stores tree bytes as they are (hand-made, maybe not a valid tree); returns their id. */
  raw(bytes: Uint8Array, refs: BlobId[] = []): BlobId {
    const id = blobIdOf(bytes);
    this.blobs.blobs.set(id, { kind: "tree", raw: bytes, refs });
    return id;
  }
}

function base(meta: Meta, mode: number) {
  return {
    mode,
    mtimeMs: 1_600_000_000_000,
    atimeMs: 1_600_000_000_000,
    uid: 0,
    gid: 0,
    inode: nextInode++,
    device: 1,
    links: 1,
    ...meta,
  };
}

/**
 * A source that answers from a map of ids to bytes without checking them: it can give a tree
 * under any id, so a tree may name itself (a loop no checking source can produce).
 */
export class UncheckedSource implements BlobSource {
  readonly blobs = new Map<BlobId, Uint8Array>();
  gets = 0;

  get(id: BlobId, _kind: BlobKind): Promise<Uint8Array> {
    this.gets++;
    const raw = this.blobs.get(id);
    return raw
      ? Promise.resolve(raw)
      : Promise.reject(new BlobUnavailableError(id, "no such blob"));
  }
}
