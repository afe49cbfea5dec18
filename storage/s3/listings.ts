/**
 * The S3 backend's lists, built from a user's histories as the store lists them: names (counted in
 * a first pass, then streamed in a second, both as of the moment the list began), entries now or at
 * a time, and the versions of one name.
 *
 * @module
 */
import type { FileListing, VersionListing, VersionRecord } from "../storage.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { currentAt, fileVersions, histories, nameLength } from "./histories.ts";
import { encodeName, nameRecordsPrefix, recordsRoot, userRecordsPrefix } from "./keys.ts";

/** Names per page of a name list, and versions per page of a version list. */
export const PAGE_ITEMS = 1000;

/** Where a user's lists are read. */
export interface ListScope {
  client: S3Client;
  prefix: string;
  userId: number;
}

const encoder = new TextEncoder();

/**
 * The user's names under `namePrefix` current at `atMs`, counted first: `files` and `nameBytes`
 * hold for what `pages` yields unless versions current at `atMs` are pruned in between (see
 * docs/storage.md).
 */
export async function listNames(
  scope: ListScope,
  namePrefix: string,
  atMs: number,
): Promise<FileListing> {
  let files = 0;
  let nameBytes = 0;
  for await (const history of scopeHistories(scope, namePrefix)) {
    if (currentAt(history, atMs)) {
      files++;
      nameBytes += nameLength(history.name);
    }
  }
  const done = new AbortController();
  async function* pages(): AsyncGenerator<Uint8Array> {
    let batch: string[] = [];
    for await (const history of scopeHistories(scope, namePrefix)) {
      if (done.signal.aborted) return;
      if (!currentAt(history, atMs)) continue;
      batch.push(history.name);
      if (batch.length === PAGE_ITEMS) {
        yield encoder.encode(batch.join("\n") + "\n");
        batch = [];
      }
    }
    if (batch.length > 0) yield encoder.encode(batch.join("\n") + "\n");
  }
  return { files, nameBytes, pages: pages(), [Symbol.dispose]: () => done.abort() };
}

/** The files under `namePrefix` current at `atMs`, with their metadata, in name order. */
export function listEntries(scope: ListScope, namePrefix: string, atMs: number): VersionListing {
  return pagedVersions(async function* () {
    for await (const history of scopeHistories(scope, namePrefix)) {
      const version = currentAt(history, atMs);
      if (version) yield [version];
    }
  });
}

/** Every version of `name`, oldest first. */
export function listVersions(scope: ListScope, name: string): VersionListing {
  return pagedVersions(async function* () {
    const { client, prefix, userId } = scope;
    const only = nameRecordsPrefix(prefix, userId, name);
    for await (const history of histories(client, recordsRoot(prefix), only)) {
      yield fileVersions(history);
    }
  });
}

function scopeHistories({ client, prefix, userId }: ListScope, namePrefix: string) {
  const listPrefix = userRecordsPrefix(prefix, userId) + encodeName(namePrefix);
  return histories(client, recordsRoot(prefix), listPrefix);
}

function pagedVersions(source: () => AsyncGenerator<VersionRecord[]>): VersionListing {
  const done = new AbortController();
  async function* pages(): AsyncGenerator<VersionRecord[]> {
    let batch: VersionRecord[] = [];
    for await (const versions of source()) {
      if (done.signal.aborted) return;
      for (const version of versions) batch.push(version);
      if (batch.length >= PAGE_ITEMS) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
  return { pages: pages(), [Symbol.dispose]: () => done.abort() };
}
