/**
 * `server.ts verify`: re-reads every stored version (current and past) and checks its bytes
 * against the SHA-256 stored with it, like `borg check` or `restic check --read-data`. Safe on a
 * live root: it only reads, a page of rows at a time (no long read transaction that would hold
 * the server's log back), and a data file removed while it ran is told apart from a missing one by
 * looking at the index again.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { compareBytes } from "../../protocol/list.ts";
import { DataFiles, MissingDataFileError } from "./data_files.ts";
import { INDEX_FILE_NAME } from "./options.ts";
import { CorruptStoreError } from "../storage.ts";

/** Options of `verifyRoot`. */
export interface VerifyOptions {
  /** The backup root. */
  root: string;
  /** Only this user's files. */
  userId?: number;
  /** Told after each version, for a progress line. */
  onProgress?: (progress: { versions: number; bytes: number }) => void;
}

/** One version whose bytes are not what the index says. */
export interface VerifyProblem {
  /** Whose file. */
  userId: number;
  /** Its name. */
  name: string;
  /** Which version of it. */
  versionId: number;
  /** Whether it is the file's current version. */
  current: boolean;
  /** `mismatch`: other bytes; `missing`: its data file is gone; `unreadable`: other trouble. */
  kind: "mismatch" | "missing" | "missing-digest" | "unreadable";
  /** What was found, for people. */
  detail: string;
}

/** What `verifyRoot` found. */
export interface VerifyReport {
  /** Versions whose bytes were read and checked. */
  versions: number;
  /** Bytes read. */
  bytes: number;
  /** Versions removed by the running server while the check ran (not problems). */
  removedMeanwhile: number;
  /** The versions that do not match, in the order found. */
  problems: VerifyProblem[];
}

/** Rows per page: small, since small files' bytes come with their rows. */
const PAGE_ROWS = 64;
const READ_CHUNK = 1024 * 1024;
const decoder = new TextDecoder();

interface Row {
  id: number;
  user_id: number;
  name: Uint8Array;
  current: number;
  size: number;
  sha256: Uint8Array;
  content: Uint8Array | null;
  data_file: string | null;
}

/**
 * Checks every version of the root (or of one user).
 *
 * @throws {Error} if the root has no index.
 */
export async function verifyRoot(options: VerifyOptions): Promise<VerifyReport> {
  const indexPath = `${options.root}/${INDEX_FILE_NAME}`;
  if (!Deno.lstatSync(indexPath).isFile) throw new Error(`${indexPath} is not an index`);
  const dataFiles = new DataFiles(options.root);
  const db = new DatabaseSync(indexPath, { readOnly: true });
  const report: VerifyReport = { versions: 0, bytes: 0, removedMeanwhile: 0, problems: [] };
  try {
    const byUser = options.userId !== undefined;
    const page = db.prepare(
      `SELECT id, user_id, name, current, size, sha256, content, data_file FROM versions
       WHERE id > ? ${byUser ? "AND user_id = ?" : ""} ORDER BY id LIMIT ${PAGE_ROWS}`,
    );
    const stillThere = db.prepare("SELECT 1 FROM versions WHERE id = ? AND data_file = ?");
    let after = 0;
    for (;;) {
      const rows =
        (byUser ? page.all(after, options.userId!) : page.all(after)) as unknown as Row[];
      if (rows.length === 0) break;
      for (const row of rows) {
        const problem = await checkRow(
          row,
          dataFiles,
          () => stillThere.get(row.id, row.data_file) !== undefined,
        );
        if (problem === "removed") report.removedMeanwhile++;
        else {
          report.versions++;
          report.bytes += row.size;
          if (problem) report.problems.push(problem);
        }
        options.onProgress?.({ versions: report.versions, bytes: report.bytes });
      }
      after = rows.at(-1)!.id;
    }
    return report;
  } finally {
    db.close();
  }
}

async function checkRow(
  row: Row,
  dataFiles: DataFiles,
  stillThere: () => boolean,
): Promise<VerifyProblem | "removed" | undefined> {
  const problem = (kind: VerifyProblem["kind"], detail: string): VerifyProblem => ({
    userId: row.user_id,
    name: decoder.decode(row.name),
    versionId: row.id,
    current: row.current === 1,
    kind,
    detail,
  });
  if (row.sha256.length !== 32) return problem("missing-digest", "no SHA-256 stored");
  const hash = createHash("sha256");
  if (row.content) {
    hash.update(row.content);
  } else {
    let file: Deno.FsFile;
    try {
      file = await dataFiles.open(row.data_file!, row.size);
    } catch (error) {
      if (error instanceof MissingDataFileError) {
        return stillThere()
          ? problem("missing", `data file ${row.data_file} is missing`)
          : "removed";
      }
      if (error instanceof CorruptStoreError) return problem("unreadable", error.message);
      throw error;
    }
    using _ = file;
    const buffer = new Uint8Array(READ_CHUNK);
    for (let count = await file.read(buffer); count !== null; count = await file.read(buffer)) {
      hash.update(buffer.subarray(0, count));
    }
  }
  const digest = new Uint8Array(hash.digest());
  if (compareBytes(digest, row.sha256) === 0) return undefined;
  return problem("mismatch", `SHA-256 is ${toHex(digest)}, stored ${toHex(row.sha256)}`);
}
