/**
 * The restorer's two walks over a snapshot's trees: `counter` adds up what will be restored;
 * `Writer` makes folders (lazily: one looked into only for an include pattern is made when
 * something in it is restored), links and hard links, queues files for `FileBatcher`, and gives
 * each folder its metadata once everything in it is in place (a folder's times after its
 * contents').
 *
 * @module
 */
import type { DirEntry, FileEntry, SymlinkEntry } from "../../protocol/v3/tree.ts";
import { RestoreError, UnsafeSnapshotError } from "./restore_errors.ts";
import type { FileBatcher } from "./restore_files.ts";
import type { Selection } from "./restore_filter.ts";
import { HardLinks, placeHardLink, placeSymlink } from "./restore_links.ts";
import { applyMetadata, type MetadataOptions } from "./restore_metadata.ts";
import type {
  DEFAULT_RESTORE_LIMITS,
  RestoreOptions,
  RestoreProgress,
  RestoreReport,
} from "./restore_options.ts";
import type { TreeVisitor } from "./restore_trees.ts";

/** A folder of the restore: made (or found) lazily, finished once its contents are. */
export interface Folder {
  /** Its local path. */
  path: string;
  /** Its path beneath the target. */
  shown: string;
  /** Its entry (none for the target itself, whose metadata is left alone). */
  entry?: DirEntry;
  parent?: Folder;
  /** Entries beneath it not yet in place. */
  pending: number;
  walked: boolean;
  made: boolean;
  /**
   * Made by this restore (not found there): private (0700) and empty when made, so what goes in
   * is written under its final name, with nothing to replace and no one else to see it half done.
   */
  created: boolean;
  finished: boolean;
}

/** The counting pass: totals for progress. */
export function counter(progress: RestoreProgress): TreeVisitor {
  return {
    enterDir: () => Promise.resolve(true),
    leaveDir: () => Promise.resolve(),
    leaf: (entry) => {
      progress.filesTotal++;
      if (entry.type === "file") progress.bytesTotal += entry.size;
      return Promise.resolve();
    },
  };
}

/** What the writing pass shares with `restore`. */
export interface WriterContext {
  options: RestoreOptions;
  limits: typeof DEFAULT_RESTORE_LIMITS;
  metadata: MetadataOptions;
  files: FileBatcher;
  report: RestoreReport;
  progress: RestoreProgress;
  emit(currentFile?: string): void;
}

/** The writing pass. */
export class Writer implements TreeVisitor {
  readonly #stack: Folder[];
  readonly #links: HardLinks;

  constructor(top: Folder, readonly base: number, readonly context: WriterContext) {
    this.#stack = [top];
    this.#links = new HardLinks(context.limits.maxHardLinkInodes);
  }

  async enterDir(entry: DirEntry, path: string[], selection: Selection): Promise<boolean> {
    this.context.options.signal?.throwIfAborted();
    const parent = this.#stack.at(-1)!;
    const folder: Folder = {
      path: `${parent.path}/${entry.name}`,
      shown: this.#shown(path),
      entry,
      parent,
      pending: 0,
      walked: false,
      made: false,
      created: false,
      finished: false,
    };
    // A folder looked into only for what an include pattern may match in it is made when
    // something in it is restored.
    if (selection === "restore" && !(await this.#make(folder))) return false;
    parent.pending++;
    this.#stack.push(folder);
    return true;
  }

  async leaveDir(): Promise<void> {
    const folder = this.#stack.pop()!;
    folder.walked = true;
    await this.finish(folder);
  }

  async leaf(entry: FileEntry | SymlinkEntry, path: string[]): Promise<void> {
    this.context.options.signal?.throwIfAborted();
    const { report, progress, options, metadata } = this.context;
    const parent = this.#stack.at(-1)!;
    const shown = this.#shown(path);
    const size = entry.type === "file" ? entry.size : 0;
    const done = () => {
      progress.filesDone++;
      progress.bytesDone += size;
      this.context.emit(shown);
    };
    if (!(await this.#make(parent))) return void done();
    const path_ = `${parent.path}/${entry.name}`;
    if (
      options.overwrite === "never" && !parent.created &&
      await Deno.lstat(path_).then(() => true, () => false)
    ) {
      report.skipped++;
      return void done();
    }
    if (entry.type === "symlink") {
      await this.#fs(shown, () => placeSymlink(parent.path, entry, metadata, parent.created));
      report.symlinks++;
      return void done();
    }
    if (entry.type !== "file") {
      throw new UnsafeSnapshotError(shown, `an entry of unknown type ${(entry as DirEntry).type}`);
    }
    const overflowed = this.#links.overflowed;
    const role = this.#links.roleOf(entry, path_);
    if (this.#links.overflowed && !overflowed) {
      report.warnings.push(
        `more than ${this.#links.maxInodes} hard-linked files at once: later names are copies`,
      );
    }
    parent.pending++;
    if (role.later) {
      const first = role.later;
      await this.#links.whenPlaced(first, async () => {
        await this.#fs(
          shown,
          () => placeHardLink(first.path, parent.path, entry.name, parent.created),
        );
        report.hardLinks++;
        done();
        parent.pending--;
        await this.finish(parent);
      });
      return;
    }
    await this.context.files.add({
      entry,
      dir: parent.path,
      inPlace: parent.created,
      shown,
      onDone: async () => {
        report.files++;
        report.bytes += entry.size;
        progress.filesDone++;
        this.context.emit(shown);
        if (role.first) await this.#links.placed(role.first);
        parent.pending--;
        await this.finish(parent);
      },
    });
  }

  /** Gives `folder` its metadata once it is walked and everything in it is in place. */
  async finish(folder: Folder): Promise<void> {
    if (!folder.walked || folder.pending > 0 || folder.finished) return;
    folder.finished = true;
    if (folder.made && folder.entry) {
      const entry = folder.entry;
      await this.#fs(
        folder.shown,
        () => Promise.resolve(applyMetadata(folder.path, entry, this.context.metadata)),
      );
      this.context.report.dirs++;
    }
    if (folder.parent) {
      folder.parent.pending--;
      await this.finish(folder.parent);
    }
  }

  /**
   * Makes `folder` (and the folders above it) as real folders, or checks one that is there: a
   * file or link in the way is removed (never followed), or with `overwrite: "never"` kept and
   * the folder skipped (false).
   */
  async #make(folder: Folder): Promise<boolean> {
    if (folder.made) return true;
    if (folder.parent && !(await this.#make(folder.parent))) return false;
    const found = await Deno.lstat(folder.path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new RestoreError(folder.shown, error.message, { cause: error });
    });
    if (found && !found.isDirectory) {
      if (this.context.options.overwrite === "never") {
        this.context.report.warnings.push(`${folder.shown}: not a folder here; left as it is`);
        return false;
      }
      await this.#fs(folder.shown, () => Deno.remove(folder.path));
    }
    if (!found?.isDirectory) {
      // Private until its contents are in place and its own mode is set.
      await this.#fs(folder.shown, () => Deno.mkdir(folder.path, { mode: 0o700 }));
      folder.created = true;
    }
    folder.made = true;
    return true;
  }

  /** Runs a file-system step for `shown`, naming it in the error. */
  async #fs(shown: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (error instanceof RestoreError) throw error;
      throw new RestoreError(shown, (error as Error).message, { cause: error });
    }
  }

  #shown(path: string[]): string {
    return path.slice(this.base).join("/");
  }
}
