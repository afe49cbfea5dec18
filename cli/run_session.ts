import type { FileClient } from "../client/file_client.ts";
import { Status } from "../protocol/constants.ts";
import { statusForError } from "../client/status_errors.ts";
import { readFull } from "../io/relay.ts";
import { ExitCode, UsageError } from "./flags.ts";

/** File in the working directory listing the files to back up, one per line (original client). */
export const BACKUP_LIST_FILE = "backup.info";

/** Options of `runSession`. */
export interface SessionOptions {
  /** Print each step as a JSON line instead of text. */
  json: boolean;
}

interface Step {
  step: string;
  status: number;
  expected: boolean;
  detail?: string;
}

/** The status the server answered, read back from what the client library threw. */
function statusOf(error: unknown): number {
  const status = statusForError(error);
  if (status === undefined) throw error;
  return status;
}

/**
 * Reads the files to back up from `backup.info`, one per line.
 *
 * @throws {UsageError} if the file is missing or names no file.
 */
export async function readBackupList(): Promise<string[]> {
  let listText: string;
  try {
    listText = await Deno.readTextFile(BACKUP_LIST_FILE);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`run needs ./${BACKUP_LIST_FILE}: one file name per line`);
    }
    throw error;
  }
  const files = listText.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (files.length === 0) throw new UsageError(`${BACKUP_LIST_FILE} names no file`);
  return files;
}

/**
 * The original client's session: list, back up each file of `backup.info`, list, restore the first
 * file into a temporary file (and compare it), delete it, and restore it again expecting "file does
 * not exist". Prints every step with its status. Resolves 0 if every step answered as expected.
 */
export async function runSession(
  client: FileClient,
  files: string[],
  options: SessionOptions,
): Promise<number> {
  let allExpected = true;
  const report = (step: Step) => {
    allExpected &&= step.expected;
    if (options.json) {
      console.log(JSON.stringify(step));
    } else {
      const mark = step.expected ? "ok " : "BAD";
      console.log(`${mark} ${step.step}: ${step.status}${step.detail ? ` (${step.detail})` : ""}`);
    }
  };
  const list = async (step: string) => {
    const names = await client.list();
    const status = names.length > 0 ? Status.ListSent : Status.NoFiles;
    report({ step, status, expected: true, detail: names.join(", ") || "no files" });
  };

  await list("list");
  for (const file of files) {
    let status: number = Status.Done;
    await client.backupFile(file, file).catch((error) => status = statusOf(error));
    report({ step: `backup ${file}`, status, expected: status === Status.Done });
  }
  await list("list");

  const first = files[0];
  const temporary = await Deno.makeTempFile({ prefix: "backup-client-restore-" });
  try {
    let status: number = Status.FileRestored;
    await client.retrieveToFile(first, temporary).catch((error) => status = statusOf(error));
    const same = status === Status.FileRestored && await sameContent(first, temporary);
    report({
      step: `restore ${first} to ${temporary}`,
      status,
      expected: same,
      detail: status === Status.FileRestored ? (same ? "same bytes" : "bytes differ") : undefined,
    });
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }

  let status: number = Status.Done;
  await client.delete(first).catch((error) => status = statusOf(error));
  report({ step: `delete ${first}`, status, expected: status === Status.Done });

  status = Status.FileRestored;
  const scratch = await Deno.makeTempFile({ prefix: "backup-client-restore-" });
  try {
    await client.retrieveToFile(first, scratch).catch((error) => status = statusOf(error));
  } finally {
    await Deno.remove(scratch).catch(() => {});
  }
  report({
    step: `restore ${first} again`,
    status,
    expected: status === Status.FileNotFound,
    detail: status === Status.FileNotFound ? "file does not exist, as expected" : undefined,
  });
  return allExpected ? ExitCode.Ok : ExitCode.Failure;
}

/** Compares two files chunk by chunk, without reading either whole. */
async function sameContent(pathA: string, pathB: string): Promise<boolean> {
  using a = await Deno.open(pathA);
  using b = await Deno.open(pathB);
  const chunkSize = 64 * 1024;
  const bufferA = new Uint8Array(chunkSize);
  const bufferB = new Uint8Array(chunkSize);
  while (true) {
    const countA = await readFull(a, bufferA);
    const countB = await readFull(b, bufferB);
    if (countA !== countB) return false;
    for (let i = 0; i < countA; i++) if (bufferA[i] !== bufferB[i]) return false;
    if (countA < chunkSize) return true;
  }
}
