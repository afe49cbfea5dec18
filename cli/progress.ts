/** Shows a transfer's progress on standard error: bytes, rate and time left. */
export interface Progress {
  /** Reports bytes done of total. */
  update(done: number, total: number): void;
  /** Clears the line. */
  finish(): void;
}

/** Transfers smaller than this get no progress line. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;
const REDRAW_MS = 100;
const encoder = new TextEncoder();

/** A progress line when standard error is a terminal; otherwise (or when quiet) one that shows nothing. */
export function createProgress(label: string, quiet: boolean): Progress {
  if (quiet || !Deno.stderr.isTerminal()) return { update() {}, finish() {} };
  const started = performance.now();
  let lastDraw = 0;
  let drawn = false;
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  return {
    update(done, total) {
      const now = performance.now();
      if (total < PROGRESS_MIN_BYTES || (now - lastDraw < REDRAW_MS && done < total)) return;
      lastDraw = now;
      drawn = true;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const eta = rate > 0 ? Math.ceil((total - done) / rate) : 0;
      const percent = Math.floor((done / total) * 100);
      write(
        `\r\x1b[K${label}  ${percent}%  ${formatBytes(done)} / ${formatBytes(total)}  ` +
          `${formatBytes(rate)}/s  ${eta}s left`,
      );
    },
    finish() {
      if (drawn) write("\r\x1b[K");
    },
  };
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
