/**
 * The restorer's two walks over a snapshot's trees: `counter` adds up what will be restored;
 * `Writer` makes folders (lazily: one looked into only for an include pattern is made when
 * something in it is restored), links and hard links, queues files for `FileBatcher`, and gives
 * each folder its metadata once everything in it is in place (a folder's times after its
 * contents'). A path that fails (`isPathFailure`) is reported and skipped, with what is beneath it
 * if it is a folder; the rest goes on.
 *
 * @module
 */
import type { DirEntry, FileEntry, SymlinkEntry } from "../../protocol/v3/tree.ts";
import { isPathFailure, RestoreError, UnsafeSnapshotError } from "./restore_errors.ts";
import type { FileBatcher } from "./restore_files.ts";
import type { Selection } from "./restore_filter.ts";
import { HardLinks, placeHardLink, placeSymlink } from "./restore_links.ts";
import { applyMetadata, type MetadataOptions } from "./restore_metadata.ts";
import {
  type DEFAULT_RESTORE_LIMITS,
  MAX_REPORTED_FAILURES,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreReport,
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
  /** It could not be made (reported once): nothing beneath it is restored. */
  failed?: boolean;
}

/**
 * The counting pass: totals for progress; `onFile` is told of each file (the restorer starts its
 * file workers at the first small one).
 */
export function counter(
  progress: RestoreProgress,
  onFile?: (entry: FileEntry) => void,
): TreeVisitor {
  return {
    enterDir: () => Promise.resolve(true),
    leaveDir: () => Promise.resolve(),
    leaf: (entry) => {
      progress.filesTotal++;
      if (entry.type === "file") {
        progress.bytesTotal += entry.size;
        onFile?.(entry);
      }
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
      if (
        await this.#try(shown, () => placeSymlink(parent.path, entry, metadata, parent.created))
      ) {
        report.symlinks++;
      }
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
      await this.#links.whenPlaced(first, async (failed) => {
        if (failed) {
          this.fail(
            new RestoreError(shown, `its first name could not be restored: ${failed.message}`),
          );
        } else if (
          await this.#try(
            shown,
            () => placeHardLink(first.path, parent.path, entry.name, parent.created),
          )
        ) {
          report.hardLinks++;
        }
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
      onFailed: async (error) => {
        this.fail(error);
        progress.filesDone++;
        this.context.emit(shown);
        if (role.first) await this.#links.placed(role.first, error);
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
      const set = await this.#try(
        folder.shown,
        () => Promise.resolve(applyMetadata(folder.path, entry, this.context.metadata)),
      );
      if (set) this.context.report.dirs++;
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
    if (folder.failed) return false;
    if (folder.parent && !(await this.#make(folder.parent))) return false;
    const made = await this.#try(folder.shown, async () => {
      const found = await Deno.lstat(folder.path).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      });
      if (found && !found.isDirectory) {
        if (this.context.options.overwrite === "never") {
          this.context.report.warnings.push(`${folder.shown}: not a folder here; left as it is`);
          return false;
        }
        await Deno.remove(folder.path);
      }
      if (!found?.isDirectory) {
        // Private until its contents are in place and its own mode is set.
        await Deno.mkdir(folder.path, { mode: 0o700 });
        folder.created = true;
      }
      return true;
    });
    // Not made (left as it is, or failed): asked again for each entry beneath, answered at once.
    if (!made) folder.failed = true;
    folder.made = made;
    return made;
  }

  /** Counts and reports `error`, a path that could not be restored; the restore goes on. */
  fail(error: RestoreError): void {
    const { report, options } = this.context;
    report.failed++;
    if (report.errors.length < MAX_REPORTED_FAILURES) report.errors.push(error);
    options.onError?.(error);
  }

  /**
   * Runs a file-system step for `shown`: false (and reported, with `shown` named) if it failed
   * as `isPathFailure` says a path may fail, else its own answer (true for none).
   *
   * @throws what stops the restore.
   */
  async #try(shown: string, step: () => Promise<boolean | void>): Promise<boolean> {
    try {
      return (await step()) ?? true;
    } catch (error) {
      if (!isPathFailure(error, this.context.options.signal)) throw error;
      this.fail(
        error instanceof RestoreError
          ? error
          : new RestoreError(shown, (error as Error).message, { cause: error }),
      );
      return false;
    }
  }

  #shown(path: string[]): string {
    return path.slice(this.base).join("/");
  }
}
