/**
 * The rule that a name is not both a file and a folder, checked against the store's listing: each
 * folder of the name is not a current file, and no current file lies below the name. The lists
 * run at once.
 *
 * @module
 */
import { NameConflictError } from "../storage.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { currentAt, histories, latest } from "./histories.ts";
import { encodeName, nameRecordsPrefix, recordsRoot, userRecordsPrefix } from "./keys.ts";

/** @throws {NameConflictError} if a folder of `name` is a file, or `name` is a folder. */
export async function checkNoConflict(
  client: S3Client,
  prefix: string,
  userId: number,
  name: string,
): Promise<void> {
  const root = recordsRoot(prefix);
  const hasCurrent = async (listPrefix: string) => {
    for await (const history of histories(client, root, listPrefix)) {
      if (currentAt(history)) return true;
    }
    return false;
  };
  const isFile = async (folder: string) => {
    const newest = await latest(client, root, nameRecordsPrefix(prefix, userId, folder));
    return newest !== undefined && currentAt(newest) !== undefined;
  };
  const folders: string[] = [];
  for (let at = name.indexOf("/"); at !== -1; at = name.indexOf("/", at + 1)) {
    folders.push(name.slice(0, at));
  }
  const [isFolder, ...folderIsFile] = await Promise.all([
    hasCurrent(userRecordsPrefix(prefix, userId) + encodeName(`${name}/`)),
    ...folders.map(isFile),
  ]);
  const file = folderIsFile.indexOf(true);
  if (file >= 0) throw new NameConflictError(`${folders[file]} is a file, not a folder`);
  if (isFolder) throw new NameConflictError(`${name} is a folder, not a file`);
}
