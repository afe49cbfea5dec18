/**
 * Writes a user's current files out as a folder (`server.ts export`), from one consistent moment
 * of the index, checking every file's SHA-256 as it is copied. Safe while a server runs on the
 * root: it only reads. A file's bytes are in the index (small files), in a data file (large files
 * stored before schema 5) or in chunks in packs (`ROOT/repo`), read through `chunkedSource`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { UnsafePathError } from "../storage.ts";
import { compareBytes } from "../../protocol/list.ts";
import { writeAll } from "../../io/byte_stream.ts";
import { CorruptStoreError } from "../storage.ts";
import type { ByteSource } from "../../io/byte_stream.ts";
import { chunkedSource, CorruptChunkError } from "../../repository/chunked_source.ts";
import { ChunkCatalog } from "./chunk_catalog.ts";
import { DataFiles, ensureFolder } from "./data_files.ts";
import { INDEX_FILE_NAME } from "./options.ts";
import { openRepositoryForReading } from "./read_only_repository.ts";

/** Options of `exportUser`. */
export interface ExportOptions {
  /** The backup root. */
  root: string;
  /** Whose files. */
  userId: number;
  /** The folder to write into: created if missing, and must be empty. */
  to: string;
}

const COPY_CHUNK = 1024 * 1024;
const decoder = new TextDecoder();

/**
 * Exports the user's current files into `to`, with their modification times and modes.
 *
 * @returns how many files and bytes were written.
 * @throws {Error} if the root has no index, `to` is not an empty folder, or a file's bytes do not
 *   match its SHA-256 (`CorruptStoreError`).
 */
export async function exportUser(
  options: ExportOptions,
): Promise<{ files: number; bytes: number }> {
  const indexPath = `${options.root}/${INDEX_FILE_NAME}`;
  if (!Deno.lstatSync(indexPath).isFile) throw new Error(`${indexPath} is not an index`);
  await Deno.mkdir(options.to, { recursive: true });
  for (const _ of Deno.readDirSync(options.to)) throw new Error(`${options.to} is not empty`);
  const dataFiles = new DataFiles(options.root);
  const store = await openRepositoryForReading(options.root);
  const db = new DatabaseSync(indexPath, { readOnly: true });
  // Where chunks are is read on a second connection, outside the moment the files are read at: a
  // version's list of chunks never changes, but garbage collection may move a chunk to another
  // pack (and remove the old one) while the export runs, and only a fresh look finds it there.
  const places = new DatabaseSync(indexPath, { readOnly: true });
  try {
    const chunks = new ChunkCatalog(places);
    db.exec("BEGIN"); // one moment of the index, whatever a running server changes meanwhile
    const rows = db.prepare(
      `SELECT id, name, size, mtime_ms, mode, sha256, content, data_file, chunk_count FROM versions
       WHERE user_id = ? AND current = 1 ORDER BY name`,
    ).iterate(options.userId) as Iterable<Row>;
    const made = new Set<string>();
    let files = 0;
    let bytes = 0;
    for (const row of rows) {
      const name = decoder.decode(row.name);
      const path = `${options.to}/${name}`;
      makeFolders(options.to, name, made);
      const hash = createHash("sha256");
      // createNew never follows a link and never replaces anything already there.
      using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      if (row.chunk_count !== null) {
        const source = chunkedSource(
          store,
          row.chunk_count,
          (fromSeq, limit) => chunks.placements(options.userId, row.id, fromSeq, limit),
        );
        try {
          await copy(source, file, hash);
        } catch (error) {
          if (!(error instanceof CorruptChunkError)) throw error;
          throw new CorruptStoreError(
            `${name}: its bytes do not match its SHA-256 (${error.message})`,
          );
        } finally {
          source.close();
        }
      } else if (row.data_file !== null) {
        using source = await dataFiles.open(row.data_file, row.size);
        await copy(source, file, hash);
      } else {
        hash.update(row.content!);
        await writeAll(file, row.content!);
      }
      if (compareBytes(new Uint8Array(hash.digest()), row.sha256) !== 0) {
        throw new CorruptStoreError(`${name}: its bytes do not match its SHA-256`);
      }
      await file.utime(new Date(row.mtime_ms), new Date(row.mtime_ms));
      if (row.mode !== null && Deno.build.os !== "windows") {
        await Deno.chmod(path, row.mode & 0o7777);
      }
      files++;
      bytes += row.size;
    }
    return { files, bytes };
  } finally {
    if (db.isTransaction) db.exec("ROLLBACK");
    db.close();
    places.close();
  }
}

/** Copies `source` to its end into `file`, hashing what passes, through one buffer. */
async function copy(
  source: ByteSource,
  file: Deno.FsFile,
  hash: ReturnType<typeof createHash>,
): Promise<void> {
  const buffer = new Uint8Array(COPY_CHUNK);
  for (let count = await source.read(buffer); count !== null; count = await source.read(buffer)) {
    hash.update(buffer.subarray(0, count));
    await writeAll(file, buffer.subarray(0, count));
  }
}

interface Row {
  id: number;
  name: Uint8Array;
  size: number;
  mtime_ms: number;
  mode: number | null;
  sha256: Uint8Array;
  content: Uint8Array | null;
  data_file: string | null;
  chunk_count: number | null;
}

/** Makes the folders of `name` under `to`, each once, refusing anything but a folder in the way. */
function makeFolders(to: string, name: string, made: Set<string>): void {
  const components = name.split("/").slice(0, -1);
  let dir = to;
  for (const component of components) {
    dir += `/${component}`;
    if (made.has(dir)) continue;
    try {
      ensureFolder(dir);
    } catch (error) {
      throw new UnsafePathError(`cannot make folder ${dir}: ${error}`);
    }
    made.add(dir);
  }
}
