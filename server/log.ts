/** How log lines are written: one line of text, or one JSON object per line. */
export type LogFormat = "text" | "json";

/** The log record of one request. */
export interface RequestRecord {
  /** The client's address, `host:port`. */
  peer: string;
  /** The user id of the request (absent if the header never parsed). */
  userId?: number;
  /** The op's name (`backup`, `retrieve`, `delete`, `list`) or `-`. */
  op: string;
  /** The file name of the request, if any. */
  name?: string;
  /** Payload bytes moved (received for a backup, sent for a retrieve or list). */
  bytes: number;
  /** The status answered, or `-` if none could be sent. */
  status: number | "-";
  /** Milliseconds from the header's arrival to the end of the response. */
  durationMs: number;
  /** Why the request failed, if it did. */
  error?: string;
}

/** Where the server's operator log goes. */
export interface Logger {
  /** One line per request. */
  request(record: RequestRecord): void;
  /** An event worth an operator's attention, with optional fields. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** A lifecycle event (started, stopping, stopped): logged at level info even when quiet. */
  notice(message: string, fields?: Record<string, unknown>): void;
  /** A problem the server survived. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A failure. */
  error(message: string, fields?: Record<string, unknown>): void;
  /**
   * Whether version 3 blob requests (Missing, PutBlob, GetBlob) answered as asked get a line each,
   * as other requests do, rather than one `blob requests` line per connection.
   */
  readonly blobRequests: boolean;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Line format; default `text`. */
  format?: LogFormat;
  /** Drop request and info lines; lifecycle notices, warnings and errors still go out. */
  quiet?: boolean;
  /** See {@linkcode Logger.blobRequests}; default false. */
  blobRequests?: boolean;
  /** Where each line goes; default standard output. */
  writeLine?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

/**
 * Makes a logger that writes one line per event, as text or JSON.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * createLogger({ format: "json", writeLine: (l) => lines.push(l) }).info("started");
 * assert.deepEqual(JSON.parse(lines[0]).msg, "started");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const writeLine = options.writeLine ?? writeStdout;
  const quiet = options.quiet ?? false;
  const emit = (level: string, message: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    if (format === "json") {
      writeLine(JSON.stringify({ time, level, msg: message, ...fields }));
      return;
    }
    const rest = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${formatValue(value)}`)
      .join(" ");
    writeLine(`${time} ${level.toUpperCase()} ${message}${rest ? " " + rest : ""}`);
  };
  return {
    blobRequests: options.blobRequests ?? false,
    request(record) {
      if (!quiet) emit("info", "request", { ...record });
    },
    info(message, fields) {
      if (!quiet) emit("info", message, fields);
    },
    notice(message, fields) {
      emit("info", message, fields);
    },
    warn(message, fields) {
      emit("warn", message, fields);
    },
    error(message, fields) {
      emit("error", message, fields);
    },
  };
}

function formatValue(value: unknown): string {
  // Totals (the stats line's requests by op and status, its read cache) as JSON on the one line.
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  const text = String(value);
  // Names come from clients: quote anything with spaces, quotes or non-printing bytes.
  return /^[\x21-\x7e]+$/.test(text) && !text.includes('"') ? text : JSON.stringify(text);
}
