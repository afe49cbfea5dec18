/**
 * The settings of a version 3 client connection (`PipelineV3`): how many requests and bytes may be
 * out at once, how long the server may stay silent, how long a list may be, and the clock. Each
 * has a default here, the one place they are given.
 *
 * @module
 */
import type { Timers } from "./silence_timer_v3.ts";

export type { Timers };

/** Requests out at once at most, by default. */
export const DEFAULT_MAX_REQUESTS = 1024;
/** Bytes of requests sent and not answered at most, by default. */
export const DEFAULT_MAX_UNANSWERED_BYTES = 64 * 1024 * 1024;
/** How long the server may stay silent while answers are due, by default. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Snapshots one list answer may carry at most, by default (a hostile list is endless). */
export const DEFAULT_MAX_LIST_ENTRIES = 1_000_000;
/** Bytes of one list answer's entries at most, by default. */
export const DEFAULT_MAX_LIST_BYTES = 256 * 1024 * 1024;

/** Limits and clock of a pipeline; each has a default above. */
export interface PipelineOptions {
  /** Requests out at once at most. */
  maxRequests?: number;
  /** Bytes of requests sent and not yet answered at most. */
  maxUnansweredBytes?: number;
  /** Milliseconds the server may stay silent while answers are due; 0: forever. */
  timeoutMs?: number;
  /** Snapshots of one list answer at most. */
  maxListEntries?: number;
  /** Bytes of one list answer's entries at most. */
  maxListBytes?: number;
  /** The clock of the timeout. @default `REAL_TIMERS` */
  timers?: Timers;
}
