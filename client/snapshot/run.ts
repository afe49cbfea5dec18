/**
 * One backup run's walk (the archiver's engine; `archiver.ts` is its entry): see `archiver.ts`'s
 * module comment for what it does and what bounds its memory.
 *
 * @module
 */
import { MAX_LINK_TARGET_BYTES, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { ArchiveOptions, ArchiveResult } from "./archive_options.ts";
import { DEFAULT_READERS } from "./archive_options.ts";
import type { BlobId, BlobSink, BlobSource } from "./blobs.ts";
import { BlobPipeline } from "./blob_pipeline.ts";
import { blobIdOf, READ_BYTES } from "./file_chunks.ts";
import { FileReaders } from "./file_readers.ts";
import { PARENT_LOOKAHEAD, ParentTree, unchanged } from "./parent_index.ts";
import { Progress, reasonOf } from "./progress.ts";
import { sortedChildren, type TargetNode } from "./targets.ts";
import { ArchiveError, TreeWriter } from "./tree_writer.ts";
import { WalkTurns } from "./walk_turns.ts";
import {
  kindOf,
  type Metadata,
  metadataOf,
  OwnerNames,
  specialName,
  statOf,
  WalkRules,
} from "./walk.ts";

/** A pending entry: resolves to the entry, or undefined when it was left out. */
type Pending = Promise<TreeEntry | undefined>;
/** A pending entry in a box, so that awaiting the walk of a path does not await its entry. */
type Later = { entry: Pending };

/** One run's state: see the module comment of `archiver.ts` for what bounds it. */
export class Run {
  readonly progress: Progress;
  readonly rules: WalkRules;
  readonly pipeline: BlobPipeline;
  readonly writer: TreeWriter;
  readonly #source?: BlobSource;
  /** The files being read, and standard input. */
  readonly readers: FileReaders;
  #owners?: OwnerNames;
  #targetsRead = 0;
  /** Turns of the event loop between paths, so that sends go on while the walk does. */
  readonly #turns = new WalkTurns();

  constructor(options: ArchiveOptions, sink: BlobSink, source?: BlobSource) {
    this.#source = source;
    this.progress = new Progress(options.onEvent);
    this.rules = new WalkRules(options);
    this.pipeline = new BlobPipeline(sink, {
      ...options.pipeline,
      onSent: (blob) => {
        this.progress.bytesSent += blob.raw.length;
        options.pipeline?.onSent?.(blob);
      },
    });
    const blobId = sink.blobId?.bind(sink) ?? blobIdOf;
    this.writer = new TreeWriter(this.pipeline, blobId);
    this.readers = new FileReaders({
      blobId,
      readers: Math.max(1, options.readers ?? DEFAULT_READERS),
      readBytes: options.readBytes ?? READ_BYTES,
      open: options.openFile ?? ((path) => Deno.open(path)),
      syncSmall: options.openFile === undefined,
      pipeline: this.pipeline,
      progress: this.progress,
    });
  }

  async start(ownerNames: boolean): Promise<void> {
    if (ownerNames) this.#owners = await OwnerNames.load();
  }

  /** The root tree: `/` walked whole if given, else the ancestors of the paths given. */
  async root(root: TargetNode, parentId?: BlobId): Promise<BlobId> {
    let parent: ParentTree | undefined;
    if (parentId !== undefined) {
      if (!this.#source) throw new ArchiveError("a parent snapshot needs a source to read it from");
      parent = await ParentTree.load(
        this.#source,
        parentId,
        (why) => this.progress.warning("/", why),
      );
    }
    const entries = root.target
      ? await this.#walkFolder("/", "", parent, undefined)
      : await this.#ancestorEntries(root, parent);
    if (this.#targetsRead === 0) throw new ArchiveError("none of the paths given could be read");
    const tree = await this.writer.save(await Promise.all(entries ?? []), "/");
    if (root.target && entries) this.writer.closed();
    return tree;
  }

  /** Waits for every blob to be stored, then sums up. */
  async finish(tree: BlobId): Promise<ArchiveResult> {
    await this.pipeline.drain();
    const summary = this.progress.summary(this.pipeline.stats.dataBytesPut);
    const { errors, warnings } = this.progress;
    this.progress.emit({ type: "done", summary, errors, warnings });
    const stats = { ...this.pipeline.stats, peakOpenDirs: this.writer.peakOpen };
    return { tree, summary, errors, warnings, stats };
  }

  /** Resolves once no file is being read (after a failure, so that no read outlives the run). */
  idle(): Promise<void> {
    return this.readers.idle();
  }

  /** The entries of an ancestor folder: only the children that lead to paths given. */
  async #ancestorEntries(node: TargetNode, parent: ParentTree | undefined): Promise<Pending[]> {
    const entries: Pending[] = [];
    for (const child of sortedChildren(node)) {
      const pending = child.target
        ? await this.#visit(child.path, child.name, "", undefined, parent, undefined)
        : await this.#ancestor(child, parent);
      if (pending) entries.push(pending.entry);
    }
    return entries;
  }

  /** An ancestor folder's entry (links on the way followed: the path given is below them). */
  async #ancestor(node: TargetNode, parent: ParentTree | undefined): Promise<Later | undefined> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(node.path);
      if (!info.isDirectory) throw new Error("not a folder");
    } catch (error) {
      this.progress.error(node.path, "unreadable", reasonOf(error));
      return undefined;
    }
    const { same: _same, before: _before, ...meta } = this.#metadata(
      node.name,
      info,
      "dir",
      parent,
    );
    const below = parent?.entry(node.name)?.type === "dir"
      ? await parent.subtree(node.name)
      : undefined;
    const entries = await this.#ancestorEntries(node, below);
    return { entry: this.#folderEntry(meta, node.path, entries) };
  }

  /** The metadata of an entry, keeping the parent's access time when nothing else changed. */
  #metadata(
    name: string,
    info: Deno.FileInfo,
    type: TreeEntry["type"],
    parent: ParentTree | undefined,
  ): Metadata & { same: boolean; before?: TreeEntry } {
    const meta = metadataOf(name, info, this.#owners);
    const before = parent?.entry(name);
    // Reading a file or listing a folder moves its access time (relatime): keeping the parent's
    // when the rest is unchanged keeps an unchanged folder's tree, and so its id, the same.
    const same = unchanged(before, statOf(info, type));
    if (same) meta.atimeMs = before!.atimeMs;
    return { ...meta, same, before };
  }

  /**
   * Starts the entry of `path`; resolves once it is walked (a folder) or handed to a reader (a
   * file), to its pending entry, or undefined when it is left out.
   */
  async #visit(
    path: string,
    name: string,
    relative: string,
    known: Deno.FileInfo | Error | undefined,
    parent: ParentTree | undefined,
    device: number | undefined,
  ): Promise<Later | undefined> {
    this.pipeline.check();
    if (relative !== "" && this.rules.excludedByName(relative)) return undefined;
    let info: Deno.FileInfo;
    try {
      if (known instanceof Error) throw known;
      info = known ?? await Deno.lstat(path);
    } catch (error) {
      this.progress.error(path, "unreadable", reasonOf(error));
      return undefined;
    }
    if (relative === "") this.#targetsRead++;
    const kind = kindOf(info);
    if (kind === "special") {
      this.progress.warning(path, `${specialName(info)}: not kept in a snapshot`);
      return undefined;
    }
    const otherDevice = this.rules.oneFileSystem && device !== undefined && info.dev !== device;
    if (otherDevice && kind !== "dir") return undefined;
    const { same, before, ...meta } = this.#metadata(name, info, kind, parent);
    if (kind === "symlink") return this.#link(path, meta);
    if (kind === "file") {
      if (same && before?.type === "file") {
        this.progress.fileDone(info.size, "unmodified");
        const entry = {
          ...meta,
          type: "file" as const,
          size: before.size,
          content: before.content,
        };
        return { entry: Promise.resolve(entry) };
      }
      const how = before ? "changed" : "new";
      if (this.readers.fitsInOneRead(info.size)) {
        const read = await this.readers.readSmall(path, info.size);
        if (read !== null) {
          if (!read) return undefined;
          this.progress.fileDone(read.size, how);
          const entry = { ...meta, type: "file" as const, size: read.size, content: read.content };
          return { entry: Promise.resolve(entry) };
        }
      }
      await this.readers.acquire();
      return { entry: this.#readFile(path, meta, info.size, how) };
    }
    if (await this.rules.excludedFolder(path)) return undefined;
    if (otherDevice) return { entry: this.#folderEntry(meta, path, []) }; // a mount point, kept empty
    const below = before?.type === "dir" ? await parent!.subtree(name) : undefined;
    const entries = await this.#walkFolder(path, relative, below, device ?? info.dev);
    return entries && { entry: this.#folderEntry(meta, path, entries, true) };
  }

  /** The pending entry of a folder: its tree is sent once its entries are all known. */
  #folderEntry(meta: Metadata, path: string, entries: Pending[], walked = false): Pending {
    const pending = Promise.all(entries).then(async (known) => {
      const subtree = await this.writer.save(known, path);
      if (walked) this.writer.closed();
      this.progress.dirDone();
      return { ...meta, type: "dir" as const, subtree };
    });
    pending.catch(() => {}); // its failure reaches the run through the folder above
    return pending;
  }

  /** Walks the folder `path`: the pending entries of its children, or undefined if unlistable. */
  async #walkFolder(
    path: string,
    relative: string,
    parent: ParentTree | undefined,
    device: number | undefined,
  ): Promise<Pending[] | undefined> {
    let list: Deno.DirEntry[];
    try {
      // Synchronous listing and lstat: a call costs a fraction of an async op's promise and
      // wake-up, and a folder of the page cache answers in microseconds (half the walk's CPU).
      list = Array.from(Deno.readDirSync(path));
    } catch (error) {
      this.progress.error(path, "unreadable", reasonOf(error));
      return undefined;
    }
    this.writer.opened();
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const folders = list.filter((entry) => entry.isDirectory).map((entry) => entry.name);
    let nextFolder = 0;
    const entries: Pending[] = [];
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const { name, isDirectory } of list) {
      if (isDirectory) nextFolder++;
      if (parent && nextFolder < folders.length) {
        parent.prefetch(folders.slice(nextFolder, nextFolder + PARENT_LOOKAHEAD));
      }
      const below = relative === "" ? name : `${relative}/${name}`;
      const full = prefix + name;
      let info: Deno.FileInfo | Error;
      try {
        info = Deno.lstatSync(full);
      } catch (error) {
        info = error instanceof Error ? error : new Error(String(error));
      }
      const pending = await this.#visit(full, name, below, info, parent, device);
      if (pending) entries.push(pending.entry);
      await this.#turns.pass(this.pipeline);
    }
    return entries;
  }

  /** A symbolic link's entry: its target as text, never followed. */
  async #link(path: string, meta: Metadata): Promise<Later | undefined> {
    let target: string;
    try {
      target = await Deno.readLink(path);
    } catch (error) {
      this.progress.error(path, "unreadable", reasonOf(error));
      return undefined;
    }
    const bytes = new TextEncoder().encode(target).length;
    if (bytes === 0 || bytes > MAX_LINK_TARGET_BYTES || !target.isWellFormed()) {
      this.progress.error(path, "unstorable", `a link target of ${bytes} bytes cannot be stored`);
      return undefined;
    }
    return { entry: Promise.resolve({ ...meta, type: "symlink", target }) };
  }

  /** The pending entry of a file read now (a reader is free); rejects only if the sink failed. */
  #readFile(path: string, meta: Metadata, size: number, how: "new" | "changed"): Pending {
    const pending = this.readers.read(path, size).then((read): TreeEntry | undefined => {
      if (!read) return undefined;
      this.progress.fileDone(read.size, how);
      return { ...meta, type: "file", size: read.size, content: read.content };
    });
    pending.catch(() => {}); // its failure reaches the run through its folder
    return pending;
  }
}
