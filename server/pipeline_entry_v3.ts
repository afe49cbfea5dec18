/**
 * The entries of a version 3 connection's pipeline (`session_v3.ts`): a request read, its work
 * started in its place in the order, and what the connection's window holds for it; or a frame
 * that broke, answered last.
 *
 * @module
 */
import { TaggedProtocolError } from "../protocol/v3/errors.ts";
import { OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import type { PipelineWindowV3 } from "./pipeline_window_v3.ts";
import type { ReadRequestV3 } from "./request_reader_v3.ts";
import type { AnswerV3 } from "./requests_v3.ts";

/** A request read (or a frame that broke), its work under way. */
export interface EntryV3 {
  request: RequestV3 | undefined;
  tag: number;
  started: number;
  /** Bytes the window holds for it. */
  held: number;
  /** Whether the window counts it as a request. */
  admitted: boolean;
  result: Promise<AnswerV3>;
  settled: boolean;
}

/** Answers are held only behind requests of at most this many bytes (quick to carry out). */
const HOLD_BEHIND_BYTES = 64 * 1024;

/**
 * Whether an entry's work is long (a large blob stored), so that answers gathered go out before
 * it ends. A GetBlob is a read of a pack, quick whatever the window holds for it (room for the
 * largest blob): answers gathered wait for it.
 */
export function longWork(entry: EntryV3): boolean {
  return entry.request?.op !== OpV3.GetBlob && entry.held > HOLD_BEHIND_BYTES;
}

/** Resolves true once the entry's work settles, or false once `passed` resolves first. */
export function settlesBefore(entry: EntryV3, passed: Promise<void>): Promise<boolean> {
  if (entry.settled) return Promise.resolve(true);
  return Promise.race([entry.result.then(() => true, () => true), passed.then(() => false)]);
}

/** A frame that broke (`error`): queued last, holding nothing, its answer (if any) the error's. */
export function brokenEntry(error: unknown): EntryV3 {
  const tag = error instanceof TaggedProtocolError ? error.tag ?? 0 : 0;
  const result = Promise.reject(error);
  result.catch(() => {});
  return {
    request: undefined,
    tag,
    started: performance.now(),
    held: 0,
    admitted: false,
    result,
    settled: true,
  };
}

/**
 * Starts a request's work once `after` (the store changes asked before it) settles; a GetBlob asks
 * none, so later GetBlobs run beside it. Once the work settles, the window lets go of the body and
 * holds a blob read's bytes until its answer is written.
 *
 * @returns the entry, and what the next request's work waits for
 */
export function startEntry(
  { request, started, held }: ReadRequestV3,
  after: Promise<unknown>,
  carryOut: (request: RequestV3) => Promise<AnswerV3>,
  window: PipelineWindowV3,
): { entry: EntryV3; changes: Promise<unknown> } {
  const result = after.then(() => carryOut(request));
  const changes = request.op === OpV3.GetBlob ? after : result.catch(() => {});
  const entry: EntryV3 = {
    request,
    tag: request.tag,
    started,
    held,
    admitted: true,
    result,
    settled: false,
  };
  const settle = (answer?: AnswerV3) => {
    entry.settled = true;
    const now = answer && "response" in answer && answer.response.status === StatusV3.Blob
      ? answer.response.bytes.length
      : 0;
    window.adjust(now - entry.held);
    entry.held = now;
  };
  result.then(settle, () => settle());
  return { entry, changes };
}
