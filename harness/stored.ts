/**
 * What a root holds, read straight from its index and data folder, for tests and harnesses that
 * assert what is stored.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { DATA_DIR_NAME } from "../storage/embedded/data_files.ts";
import { INDEX_FILE_NAME } from "../storage/embedded/engine.ts";

const decoder = new TextDecoder();

/** Runs `read` on a read-only connection to the root's index. */
function withIndex<T>(root: string, read: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** Every current file as `<user id>/<name>`, sorted: the new layout's `filesUnder(root)`. */
export function storedNames(root: string): string[] {
  return withIndex(
    root,
    (db) =>
      (db.prepare("SELECT user_id, name FROM versions WHERE current = 1").all() as Array<
        { user_id: number; name: Uint8Array }
      >).map((row) => `${row.user_id}/${decoder.decode(row.name)}`).sort(),
  );
}

/** The bytes of a current file, from the index or its data file; `undefined` if none. */
export function storedBytes(root: string, userId: number, name: string): Uint8Array | undefined {
  const row = withIndex(root, (db) =>
    db.prepare(
      "SELECT content, data_file FROM versions WHERE user_id = ? AND name = ? AND current = 1",
    ).get(userId, new TextEncoder().encode(name))) as
      | { content: Uint8Array | null; data_file: string | null }
      | undefined;
  if (!row) return undefined;
  if (row.content) return row.content;
  return Deno.readFileSync(dataFileOf(root, userId, name)!);
}

/** How many versions (current and past) the index holds. */
export function versionCount(root: string): number {
  return withIndex(
    root,
    (db) => (db.prepare("SELECT count(*) AS n FROM versions").get() as { n: number }).n,
  );
}

/** Every data file under the root as `<shard>/<name>`, sorted (uploads in progress, large versions). */
export async function dataFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  for await (const shard of Deno.readDir(`${root}/${DATA_DIR_NAME}`)) {
    for await (const file of Deno.readDir(`${root}/${DATA_DIR_NAME}/${shard.name}`)) {
      found.push(`${shard.name}/${file.name}`);
    }
  }
  return found.sort();
}

/** The data files no version points to: uploads in progress, or leftovers. */
export async function unreferencedDataFiles(root: string): Promise<string[]> {
  const referenced = new Set(
    withIndex(
      root,
      (db) =>
        (db.prepare("SELECT data_file FROM versions WHERE data_file IS NOT NULL").all() as Array<
          { data_file: string }
        >).map((row) => `${row.data_file.slice(0, 2)}/${row.data_file}`),
    ),
  );
  return (await dataFiles(root)).filter((file) => !referenced.has(file));
}

/** The path of a current file's data file; `undefined` if it has none (kept in the index). */
export function dataFileOf(root: string, userId: number, name: string): string | undefined {
  const row = withIndex(
    root,
    (db) =>
      db.prepare("SELECT data_file FROM versions WHERE user_id = ? AND name = ? AND current = 1")
        .get(userId, new TextEncoder().encode(name)),
  ) as { data_file: string | null } | undefined;
  const file = row?.data_file;
  return file ? `${root}/${DATA_DIR_NAME}/${file.slice(0, 2)}/${file}` : undefined;
}
