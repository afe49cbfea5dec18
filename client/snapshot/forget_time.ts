/**
 * The calendar side of `forget`'s policy (restic's `internal/restic/snapshot_policy.go` and
 * `duration.go`, version 0.14): durations such as `1y5m7d2h`, the hour, day, ISO week, month and
 * year a time falls in, and "the newest snapshot minus a duration" with Go's `AddDate` arithmetic
 * (months and days overflow into the next ones: March 31 minus one month is March 3 in a
 * non-leap year). Calendar fields come from a `TimeZone`: restic uses the machine's local zone;
 * tests use `UTC_ZONE`. Pure: no I/O.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A `--keep-within` duration: calendar units, as restic's `Duration`. */
export interface PolicyDuration {
  /** Calendar years. */
  years: number;
  /** Calendar months. */
  months: number;
  /** Calendar days. */
  days: number;
  /** Hours of elapsed time. */
  hours: number;
}

/** A duration that is not `NyNmNdNh` (any subset, any order, as restic parses it). */
export class PolicyDurationError extends BackupError {}

/** A time's calendar fields in a zone (`month` 1..12). */
export interface CalendarFields {
  /** The year, e.g. 2026. */
  year: number;
  /** 1..12. */
  month: number;
  /** 1..31. */
  day: number;
  /** 0..23. */
  hour: number;
  /** 0..59. */
  minute: number;
  /** 0..59. */
  second: number;
  /** 0..999. */
  ms: number;
}

/** How a time reads on a calendar, and back. */
export interface TimeZone {
  /** The fields of the instant `ms`. */
  fields(ms: number): CalendarFields;
  /** The instant of `fields`, out-of-range fields carried over (month 13 is January next year). */
  instant(fields: CalendarFields): number;
}

/** Coordinated universal time: what tests and the fixture use. */
export const UTC_ZONE: TimeZone = {
  fields(ms) {
    const d = new Date(ms);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      ms: d.getUTCMilliseconds(),
    };
  },
  instant(f) {
    // setUTCFullYear, not Date.UTC: Date.UTC reads years 0..99 as 1900..1999.
    const d = new Date(0);
    d.setUTCFullYear(f.year, f.month - 1, f.day);
    d.setUTCHours(f.hour, f.minute, f.second, f.ms);
    return d.getTime();
  },
};

/** This machine's zone (the process's `TZ`), as restic buckets by default. */
export const LOCAL_ZONE: TimeZone = {
  fields(ms) {
    const d = new Date(ms);
    return {
      year: d.getFullYear(),
      month: d.getMonth() + 1,
      day: d.getDate(),
      hour: d.getHours(),
      minute: d.getMinutes(),
      second: d.getSeconds(),
      ms: d.getMilliseconds(),
    };
  },
  instant(f) {
    const d = new Date(0);
    d.setFullYear(f.year, f.month - 1, f.day);
    d.setHours(f.hour, f.minute, f.second, f.ms);
    return d.getTime();
  },
};

/**
 * Parses restic's duration: numbers each followed by `y`, `m`, `d` or `h` (`1y5m7d2h`, `36h`);
 * a unit given twice keeps the last; the empty text is the zero duration.
 *
 * @throws {PolicyDurationError} for a number without a unit, a unit without a number, or
 *   another unit.
 * @example
 * ```ts
 * import { parseDuration } from "./forget_time.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseDuration("1y2m3d4h"), { years: 1, months: 2, days: 3, hours: 4 });
 * assert.deepEqual(parseDuration("36h"), { years: 0, months: 0, days: 0, hours: 36 });
 * ```
 */
export function parseDuration(text: string): PolicyDuration {
  const duration = { years: 0, months: 0, days: 0, hours: 0 };
  const units = { y: "years", m: "months", d: "days", h: "hours" } as const;
  let rest = text.trim();
  while (rest !== "") {
    const match = /^(-?)(\d+)(.?)/.exec(rest);
    if (!match) {
      throw new PolicyDurationError(`"${text}" is not a duration like 1y5m7d2h: no number`);
    }
    const number = Number(match[2]) * (match[1] ? -1 : 1);
    const unit = match[3];
    if (!(unit in units)) {
      throw new PolicyDurationError(
        `"${text}" is not a duration like 1y5m7d2h: ${
          unit === "" ? `no unit after ${number}` : `"${unit}" is not y, m, d or h`
        }`,
      );
    }
    duration[units[unit as keyof typeof units]] = number;
    rest = rest.slice(match[0].length);
  }
  return duration;
}

/** True if every field of `d` is 0 (restic: the flag was not given). */
export function isZeroDuration(d: PolicyDuration | undefined): boolean {
  return d === undefined || (d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0);
}

/** `d` as restic prints it: `1y2m3d4h`, zero units left out. */
export function durationText(d: PolicyDuration): string {
  return (d.years ? `${d.years}y` : "") + (d.months ? `${d.months}m` : "") +
    (d.days ? `${d.days}d` : "") + (d.hours ? `${d.hours}h` : "");
}

/**
 * The instant `d` before `latestMs`, as restic computes it: `AddDate(-years, -months, -days)` on
 * the calendar of `zone` (overflowing days carry into the next month), then `hours` hours of
 * elapsed time.
 */
export function durationBefore(latestMs: number, d: PolicyDuration, zone: TimeZone): number {
  const f = zone.fields(latestMs);
  const shifted = zone.instant({
    ...f,
    year: f.year - d.years,
    month: f.month - d.months,
    day: f.day - d.days,
  });
  return shifted - d.hours * HOUR_MS;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Which bucket of a kind a time falls in: one number per hour, day, ISO week, month or year. */
export type Bucker = (ms: number, zone: TimeZone) => number;

/** `YYYYMMDDHH`. */
export const hourBucket: Bucker = (ms, zone): number => {
  const f = zone.fields(ms);
  return f.year * 1_000_000 + f.month * 10_000 + f.day * 100 + f.hour;
};

/** `YYYYMMDD`. */
export const dayBucket: Bucker = (ms, zone): number => {
  const f = zone.fields(ms);
  return f.year * 10_000 + f.month * 100 + f.day;
};

/** `YYYYWW`: the ISO 8601 week and its year (Go's `ISOWeek`). */
export const weekBucket: Bucker = (ms, zone): number => {
  const f = zone.fields(ms);
  const { year, week } = isoWeek(f.year, f.month, f.day);
  return year * 100 + week;
};

/** `YYYYMM`. */
export const monthBucket: Bucker = (ms, zone): number => {
  const f = zone.fields(ms);
  return f.year * 100 + f.month;
};

/** `YYYY`. */
export const yearBucket: Bucker = (ms, zone): number => zone.fields(ms).year;

/**
 * The ISO week of a calendar date: weeks start on Monday, and week 1 holds the year's first
 * Thursday (so December 29 can be in week 1 of the next year, January 3 in week 53).
 */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = UTC_ZONE.instant({ year, month, day, hour: 0, minute: 0, second: 0, ms: 0 });
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0 .. Sunday 6
  const thursday = date + (3 - weekday) * DAY_MS;
  const isoYear = new Date(thursday).getUTCFullYear();
  const january1 = UTC_ZONE.instant({
    year: isoYear,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    ms: 0,
  });
  return { year: isoYear, week: Math.floor((thursday - january1) / DAY_MS / 7) + 1 };
}
