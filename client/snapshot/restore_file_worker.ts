/**
 * A file worker of the restorer (`restore_file_pool.ts`): writes the files of each message with
 * `writeWholeFile` and answers, per file, nothing or the error's message and code.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  type KeptModeBits,
  type WholeFile,
  type WholeFileOutcome,
  writeOutcome,
} from "./restore_whole_file.ts";

/** A message to the worker: files to write, in order. */
export interface WriteRequest {
  seq: number;
  files: WholeFile[];
  /** Bytes done, shared with the pool: each file's size is added once it is written (or failed). */
  done: BigInt64Array;
}

/** The worker's answer: per file, undefined if written, else why not. */
export interface WriteAnswer {
  seq: number;
  failures: WholeFileOutcome[];
}

/** A worker serves one restore (its pool's). */
const modeBits: KeptModeBits = { kept: 0 };

self.onmessage = (event: MessageEvent<WriteRequest>) => {
  const { seq, files, done } = event.data;
  const failures = files.map((file) => {
    const outcome = writeOutcome(file, modeBits);
    Atomics.add(done, 0, BigInt(file.entry.size));
    return outcome;
  });
  self.postMessage({ seq, failures } satisfies WriteAnswer);
};
