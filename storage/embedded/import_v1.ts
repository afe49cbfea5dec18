/**
 * Imports a root in the version 1 layout (`ROOT/<user id>/<name>` files) into the index, without
 * changing a byte: small files are read into the index, large ones are hard-linked into the data
 * folder (copied where links are impossible). Resumable: a batch is committed durably before its
 * originals are removed, and a name already in the index is an original whose removal was cut off.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { encodeName } from "../../protocol/names.ts";
import { syncDirectory } from "../../io/durability.ts";
import type { FileMetadata } from "../storage.ts";
import { type DataFiles, openRegularFile } from "./data_files.ts";
import { inlineBytes, type PutChange, type VersionIndex } from "./version_index.ts";
import type { Content } from "./version_rows.ts";

/** What an import did. */
export interface V1ImportReport {
  /** User folders found. */
  users: number;
  /** Files imported (including ones a previous, interrupted import had committed). */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** How many files were left where they are: links, special files, names the protocol refuses. */
  skippedCount: number;
  /** The first of them, at most `MAX_SKIPPED_REPORTED`, with why. */
  skipped: Array<{ path: string; reason: string }>;
}

/** What the importer works with. */
export interface V1ImportOptions {
  root: string;
  index: VersionIndex;
  dataFiles: DataFiles;
  inlineMaxBytes: number;
  /** Makes one change of the index durable (the engine's way, checkpoints included). */
  durably(change: () => void, size: { changes: number; bytes: number }): Promise<void>;
}

/** The version 1 server's folder of uploads in progress. */
const V1_TEMP_DIR = ".tmp";
/** Files per committed batch. */
const BATCH_FILES = 256;
/** Skipped files reported by name at most (all are counted). */
export const MAX_SKIPPED_REPORTED = 100;
const USER_DIR = /^(0|[1-9][0-9]{0,9})$/;
const MAX_USER_ID = 0xffff_ffff;
const READ_CHUNK = 1024 * 1024;

interface Original {
  path: string;
  userId: number;
  name: string;
}

/**
 * Imports every user folder of the version 1 layout under `root`, then removes the originals and
 * the folders they leave empty. Resolves `undefined` when there was nothing to import.
 */
export async function importV1Layout(
  options: V1ImportOptions,
): Promise<V1ImportReport | undefined> {
  const { root } = options;
  const userDirs: Array<{ path: string; userId: number }> = [];
  let hadTempDir = false;
  for (const entry of Deno.readDirSync(root)) {
    if (entry.name === V1_TEMP_DIR && entry.isDirectory) hadTempDir = true;
    if (!entry.isDirectory || !USER_DIR.test(entry.name)) continue;
    const userId = Number(entry.name);
    if (userId <= MAX_USER_ID) userDirs.push({ path: `${root}/${entry.name}`, userId });
  }
  // Uploads the version 1 server had in progress: never acknowledged, as its own start-up knew.
  if (hadTempDir) await Deno.remove(`${root}/${V1_TEMP_DIR}`, { recursive: true });
  if (userDirs.length === 0) return undefined;
  const report: V1ImportReport = {
    users: userDirs.length,
    files: 0,
    bytes: 0,
    skippedCount: 0,
    skipped: [],
  };
  const skip = (path: string, reason: string) => {
    report.skippedCount++;
    if (report.skipped.length < MAX_SKIPPED_REPORTED) report.skipped.push({ path, reason });
  };
  const batch: Original[] = [];
  const emptied: string[] = [];
  const walk = async (dir: string, userId: number, prefix: string): Promise<void> => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isSymlink) skip(path, "symbolic link");
      else if (entry.isDirectory) await walk(path, userId, `${prefix}${entry.name}/`);
      else if (!entry.isFile) skip(path, "not a regular file");
      else {
        batch.push({ path, userId, name: prefix + entry.name });
        if (batch.length === BATCH_FILES) await importBatch(batch.splice(0), options, report, skip);
      }
    }
    emptied.push(dir); // children first: removed deepest first below
  };
  for (const { path, userId } of userDirs) await walk(path, userId, "");
  await importBatch(batch.splice(0), options, report, skip);
  for (const dir of emptied) await Deno.remove(dir).catch(() => {}); // kept if something was skipped
  return report;
}

/** Imports a batch: bytes in place, one durable commit, then the originals removed. */
async function importBatch(
  originals: Original[],
  options: V1ImportOptions,
  report: V1ImportReport,
  skip: (path: string, reason: string) => void,
): Promise<void> {
  const { index, dataFiles } = options;
  const changes: PutChange[] = [];
  const done: string[] = [];
  const linkedFolders = new Set<string>();
  for (const original of originals) {
    let key: Uint8Array;
    try {
      key = encodeName(original.name);
    } catch (error) {
      skip(original.path, error instanceof Error ? error.message : String(error));
      continue;
    }
    const already = index.stat(original.userId, key);
    if (already) { // committed by an import that was cut off before removing its originals
      report.files++;
      report.bytes += already.size;
      done.push(original.path);
      continue;
    }
    let read: { metadata: FileMetadata; content: Content } | undefined;
    try {
      read = await readOriginal(original.path, options);
    } catch (error) {
      skip(original.path, error instanceof Error ? error.message : String(error));
      continue;
    }
    if ("dataFile" in read.content) linkedFolders.add(dataFiles.folderOf(read.content.dataFile));
    changes.push({ userId: original.userId, name: key, ...read, quotaBytes: 0 });
    report.files++;
    report.bytes += read.metadata.size;
    done.push(original.path);
  }
  for (const folder of linkedFolders) await syncDirectory(folder);
  await options.durably(() => index.putMany(changes, Date.now()), {
    changes: changes.length,
    bytes: inlineBytes(changes),
  });
  for (const path of done) await Deno.remove(path);
}

/** Reads one original: its bytes for the index, or a data file linked to it, and its digest. */
async function readOriginal(
  path: string,
  options: V1ImportOptions,
): Promise<{ metadata: FileMetadata; content: Content }> {
  using file = await openRegularFile(path);
  const info = file.statSync();
  const hash = createHash("sha256");
  const whole = info.size <= options.inlineMaxBytes ? new Uint8Array(info.size) : undefined;
  const buffer = whole ?? new Uint8Array(READ_CHUNK);
  let size = 0;
  for (;;) {
    const into = whole ? whole.subarray(size) : buffer;
    const count = into.length === 0 ? null : file.readSync(into);
    if (!count) break;
    hash.update(into.subarray(0, count));
    size += count;
  }
  if (size !== info.size) throw new Error(`changed while read (${size} of ${info.size} bytes)`);
  const stamp = info.mtime?.getTime() ?? Date.now();
  const metadata = {
    versionId: 0,
    size,
    mtimeMs: stamp,
    mode: null,
    sha256: hash.digest(),
    storedMs: stamp,
  };
  if (whole) return { metadata, content: { bytes: whole } };
  return { metadata, content: { dataFile: options.dataFiles.adopt(path, file) } };
}
