/**
 * Writes a user's current files out as a folder (`server.ts export`), from one consistent moment
 * of the index, checking every file's SHA-256 as it is copied. Safe while a server runs on the
 * root: it only reads.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { UnsafePathError } from "../storage.ts";
import { compareBytes } from "../../protocol/list.ts";
import { writeAll } from "../../io/byte_stream.ts";
import { CorruptStoreError } from "../storage.ts";
import { DataFiles, ensureFolder } from "./data_files.ts";
import { INDEX_FILE_NAME } from "./engine.ts";

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
  const db = new DatabaseSync(indexPath, { readOnly: true });
  try {
    db.exec("BEGIN"); // one moment of the index, whatever a running server changes meanwhile
    const rows = db.prepare(
      `SELECT name, size, mtime_ms, mode, sha256, content, data_file FROM versions
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
      if (row.content) {
        hash.update(row.content);
        await writeAll(file, row.content);
      } else {
        using source = await dataFiles.open(row.data_file!, row.size);
        const buffer = new Uint8Array(COPY_CHUNK);
        for (let count = await source.read(buffer); count; count = await source.read(buffer)) {
          hash.update(buffer.subarray(0, count));
          await writeAll(file, buffer.subarray(0, count));
        }
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
  }
}

interface Row {
  name: Uint8Array;
  size: number;
  mtime_ms: number;
  mode: number | null;
  sha256: Uint8Array;
  content: Uint8Array | null;
  data_file: string | null;
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
