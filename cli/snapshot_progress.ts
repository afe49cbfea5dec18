/**
 * Draws the archiver's and the restorer's progress (docs/snapshots_plan.md §6): on a terminal, one
 * line redrawn at most 10 times a second (files and bytes done of total, rate, time left, the
 * current file); with `--json`, one event per line on standard output (progress events at most 10
 * a second, every other event as it comes); with `--quiet` or no terminal, nothing. Warnings and
 * errors are printed whatever the mode (on stderr; as events with `--json`).
 *
 * @module
 */
import type { ArchiveEvent } from "../client/snapshot/archiver.ts";
import type { RestoreProgress } from "../client/snapshot/restorer.ts";
import { formatBytes } from "./progress.ts";

/** Redraws (and progress events with `--json`) at most this often. */
export const MIN_REDRAW_MS = 100;

/** How progress is shown. */
export type ProgressMode = "line" | "json" | "none";

/** Where and when a renderer draws (tests give their own clock and sinks). */
export interface RendererOptions {
  mode: ProgressMode;
  /** Milliseconds, monotonic (default `performance.now`). */
  now?: () => number;
  /** Writes to the terminal (default standard error). */
  writeLine?: (text: string) => void;
  /** Writes one JSON event (default: a line on standard output). */
  writeJson?: (text: string) => void;
  /** Prints a warning on stderr (default `console.error`). */
  warn?: (text: string) => void;
  /** The terminal's width (default `Deno.consoleSize`, else 80). */
  columns?: number;
}

const encoder = new TextEncoder();

/** The mode the flags and the terminal call for. */
export function progressMode(flags: { json?: boolean; quiet?: boolean }): ProgressMode {
  if (flags.json) return "json";
  if (flags.quiet) return "none";
  try {
    return Deno.stderr.isTerminal() ? "line" : "none";
  } catch {
    return "none";
  }
}

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { ProgressRenderer } from "./snapshot_progress.ts";
 * import assert from "node:assert/strict";
 * let t = 0;
 * const lines: string[] = [];
 * const renderer = new ProgressRenderer("backup", {
 *   mode: "json", now: () => t, writeJson: (line) => lines.push(line),
 * });
 * for (; t < 1000; t += 10) {
 *   renderer.archive({ type: "progress", filesDone: t, dirsDone: 0, bytesDone: t, bytesSent: 0 });
 * }
 * assert.equal(lines.length, 10); // at most 10 a second
 * ```
 */
export class ProgressRenderer {
  readonly #op: string;
  readonly #mode: ProgressMode;
  readonly #now: () => number;
  readonly #writeLine: (text: string) => void;
  readonly #writeJson: (text: string) => void;
  readonly #warn: (text: string) => void;
  readonly #columns: number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #drawn = false;
  #current = "";
  #totals = { files: 0, bytes: 0, complete: false };
  /** Raw bytes the backup sent so far (for the Ctrl-C message). */
  bytesSent = 0;

  /**
   * @param op `backup` or `restore` (the `op` of JSON events)
   * @param options where and how to draw
   */
  constructor(op: string, options: RendererOptions) {
    this.#op = op;
    this.#mode = options.mode;
    this.#now = options.now ?? (() => performance.now());
    this.#writeLine = options.writeLine ??
      ((text) => Deno.stderr.writeSync(encoder.encode(text)));
    this.#writeJson = options.writeJson ?? ((text) => console.log(text));
    this.#warn = options.warn ?? ((text) => console.error(text));
    this.#columns = options.columns ?? consoleColumns();
    this.#started = this.#now();
  }

  /** Takes one archiver event. */
  archive(event: ArchiveEvent): void {
    switch (event.type) {
      case "totals":
        this.#totals = { files: event.files, bytes: event.bytes, complete: event.complete };
        if (event.complete) this.#json(event);
        return;
      case "file":
        this.#current = event.path;
        return;
      case "progress":
        this.bytesSent = event.bytesSent;
        if (!this.#due()) return;
        this.#json(event);
        this.#line(event.filesDone, event.bytesDone);
        return;
      case "warning":
        this.#problem(event, `warning: ${event.path}: ${event.reason}`);
        return;
      case "error":
        this.#problem(event, `error: ${event.path}: ${event.reason}`);
        return;
      case "done":
        this.finish();
        this.#json(event);
        return;
    }
  }

  /** Takes one restorer report (the restorer calls often; this draws at most 10 a second). */
  restore(progress: RestoreProgress): void {
    this.#totals = {
      files: progress.filesTotal,
      bytes: progress.bytesTotal,
      complete: progress.phase !== "scanning",
    };
    if (progress.currentFile !== undefined) this.#current = progress.currentFile;
    if (progress.phase !== "done" && !this.#due()) return;
    this.#json({ type: "progress", ...progress });
    if (progress.phase === "done") this.finish();
    else this.#line(progress.filesDone, progress.bytesDone);
  }

  /** Clears the line, if one was drawn. */
  finish(): void {
    if (this.#drawn) this.#writeLine("\r\x1b[K");
    this.#drawn = false;
  }

  #due(): boolean {
    const now = this.#now();
    if (now - this.#lastDraw < MIN_REDRAW_MS) return false;
    this.#lastDraw = now;
    return true;
  }

  #json(event: object): void {
    if (this.#mode === "json") this.#writeJson(JSON.stringify({ op: this.#op, ...event }));
  }

  #problem(event: object, text: string): void {
    if (this.#mode === "json") {
      this.#json(event);
      return;
    }
    this.finish();
    this.#warn(`backup-client: ${text}`);
  }

  #line(filesDone: number, bytesDone: number): void {
    if (this.#mode !== "line") return;
    const seconds = (this.#now() - this.#started) / 1000;
    const rate = seconds > 0 ? bytesDone / seconds : 0;
    const { files, bytes, complete } = this.#totals;
    const of = (done: string, total: string) => total ? `${done}/${total}` : done;
    const parts = [
      `[${clock(seconds)}]`,
      complete && bytes > 0 ? `${Math.min(100, (bytesDone / bytes) * 100).toFixed(1)}%` : "",
      `${of(String(filesDone), files ? `${files}${complete ? "" : "+"}` : "")} files`,
      of(formatBytes(bytesDone), bytes ? formatBytes(bytes) : ""),
      `${formatBytes(rate)}/s`,
      complete && rate > 0 && bytes > bytesDone ? `ETA ${clock((bytes - bytesDone) / rate)}` : "",
    ].filter((part) => part !== "");
    let text = parts.join("  ");
    const room = this.#columns - text.length - 3;
    if (this.#current && room > 8) {
      const current = this.#current.length > room
        ? `…${this.#current.slice(this.#current.length - room + 1)}`
        : this.#current;
      text += `  ${current}`;
    }
    this.#writeLine(`\r\x1b[K${text.slice(0, Math.max(1, this.#columns - 1))}`);
    this.#drawn = true;
  }
}

/** `75` → `1:15`, `3725` → `1:02:05`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours > 0 ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}
