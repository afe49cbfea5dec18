/**
 * A file worker of the restorer (`restore_file_pool.ts`): writes the files of each message with
 * `writeWholeFile` and answers, per file, nothing or the error's message and code.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type WholeFile, writeWholeFile } from "./restore_whole_file.ts";

/** A message to the worker: files to write, in order. */
export interface WriteRequest {
  seq: number;
  files: WholeFile[];
}

/** The worker's answer: per file, undefined if written, else why not. */
export interface WriteAnswer {
  seq: number;
  failures: Array<{ message: string; code?: string } | undefined>;
}

self.onmessage = (event: MessageEvent<WriteRequest>) => {
  const { seq, files } = event.data;
  const failures = files.map((file) => {
    try {
      writeWholeFile(file);
      return undefined;
    } catch (error) {
      return { message: (error as Error).message, code: (error as { code?: string }).code };
    }
  });
  self.postMessage({ seq, failures } satisfies WriteAnswer);
};
