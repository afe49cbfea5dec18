/**
 * `forget`'s policy, as restic 0.14 applies it (`internal/restic/snapshot_policy.go`,
 * `snapshot_group.go`, `cmd/restic/cmd_forget.go`): the snapshots a filter lets through are
 * grouped (by host and paths unless told otherwise), and in each group, newest first, a snapshot is
 * kept if it is one of the last N, the newest of one of the last N hours, days, ISO weeks, months
 * or years that have a snapshot, the newest of its hour/day/... within a duration of the group's
 * newest snapshot, within a duration of it, or carries a kept tag list. The rest are removed.
 * Calendar buckets are read in a `TimeZone` (restic: the local zone; see forget_time.ts).
 * Pure: the list comes in decoded, the plan goes out; nothing is forgotten here.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import type { SnapshotInfo } from "./snapshot_select.ts";
import {
  type Bucker,
  dayBucket,
  durationBefore,
  durationText,
  hourBucket,
  isZeroDuration,
  LOCAL_ZONE,
  monthBucket,
  type PolicyDuration,
  type TimeZone,
  weekBucket,
  yearBucket,
} from "./forget_time.ts";

/** What to keep; fields left out (or 0) do not keep anything. */
export interface ForgetPolicy {
  /** `--keep-last N`. */
  last?: number;
  /** `--keep-hourly N`. */
  hourly?: number;
  /** `--keep-daily N`. */
  daily?: number;
  /** `--keep-weekly N` (ISO weeks). */
  weekly?: number;
  /** `--keep-monthly N`. */
  monthly?: number;
  /** `--keep-yearly N`. */
  yearly?: number;
  /** `--keep-within D`: everything newer than the group's newest minus D. */
  within?: PolicyDuration;
  /** `--keep-within-hourly D`: the newest of each hour within D. */
  withinHourly?: PolicyDuration;
  /** `--keep-within-daily D`. */
  withinDaily?: PolicyDuration;
  /** `--keep-within-weekly D`. */
  withinWeekly?: PolicyDuration;
  /** `--keep-within-monthly D`. */
  withinMonthly?: PolicyDuration;
  /** `--keep-within-yearly D`. */
  withinYearly?: PolicyDuration;
  /** `--keep-tag a,b` (repeatable): snapshots carrying every tag of one list (`""`: untagged). */
  tags?: string[][];
}

/** The counts left after a kept snapshot (restic's `counters`; zeros left out). */
export interface KeepCounters {
  /** `--keep-last` left. */
  last?: number;
  /** `--keep-hourly` left. */
  hourly?: number;
  /** `--keep-daily` left. */
  daily?: number;
  /** `--keep-weekly` left. */
  weekly?: number;
  /** `--keep-monthly` left. */
  monthly?: number;
  /** `--keep-yearly` left. */
  yearly?: number;
}

/** Why one snapshot is kept: restic's `matches` (`"daily snapshot"`, `"within 2d"`, ...). */
export interface KeepReason {
  /** The kept snapshot. */
  snapshot: SnapshotInfo;
  /** The rules it matched, in restic's words and order. */
  matches: string[];
  /** The counts left after it. */
  counters: KeepCounters;
}

/** What a policy does to one group, newest first (restic's order). */
export interface PolicyOutcome {
  /** Kept, newest first. */
  keep: SnapshotInfo[];
  /** Removed, newest first. */
  remove: SnapshotInfo[];
  /** One per kept snapshot, in `keep`'s order. */
  reasons: KeepReason[];
}

/** A policy value out of range, or a policy that keeps nothing in particular. */
export class ForgetPolicyError extends BackupError {}

/** How `applyPolicy` reads times. */
export interface PolicyClock {
  /** The calendar buckets are in (default `LOCAL_ZONE`, as restic). */
  zone?: TimeZone;
  /** Now: a snapshot after it does not count as the newest (default `Date.now()`). */
  nowMs?: number;
}

const COUNTS = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
const BUCKERS: Record<typeof COUNTS[number], Bucker> = {
  last: () => NaN, // every snapshot is its own bucket: see `bucketOf`
  hourly: hourBucket,
  daily: dayBucket,
  weekly: weekBucket,
  monthly: monthBucket,
  yearly: yearBucket,
};
const COUNT_REASONS = {
  last: "last snapshot",
  hourly: "hourly snapshot",
  daily: "daily snapshot",
  weekly: "weekly snapshot",
  monthly: "monthly snapshot",
  yearly: "yearly snapshot",
} as const;
const WITHIN = [
  ["withinHourly", hourBucket, "hourly within"],
  ["withinDaily", dayBucket, "daily within"],
  ["withinWeekly", weekBucket, "weekly within"],
  ["withinMonthly", monthBucket, "monthly within"],
  ["withinYearly", yearBucket, "yearly within"],
] as const;

/** True if `policy` keeps nothing in particular (restic's `Empty`: no count, duration or tag). */
export function isEmptyPolicy(policy: ForgetPolicy): boolean {
  return COUNTS.every((key) => !policy[key]) && isZeroDuration(policy.within) &&
    WITHIN.every(([key]) => isZeroDuration(policy[key])) && !(policy.tags?.length);
}

/**
 * The policy as restic words it: `keep 7 daily, 4 weekly snapshots and all snapshots with tags
 * [[daily]]`.
 */
export function policyText(policy: ForgetPolicy): string {
  const counts = COUNTS.filter((key) => (policy[key] ?? 0) > 0).map((key) =>
    `${policy[key]} ${key === "last" ? "latest" : key}`
  );
  const withins = WITHIN.filter(([key]) => !isZeroDuration(policy[key])).map(([key, , reason]) =>
    `${reason.split(" ")[0]} snapshots within ${durationText(policy[key]!)}`
  );
  let text = counts.length > 0 ? `${counts.join(", ")} snapshots` : "";
  if (withins.length > 0) text += (text ? ", " : "") + withins.join(", ");
  if (policy.tags?.length) {
    text += (text ? " and " : "") +
      `all snapshots with tags [${policy.tags.map((l) => `[${l.join(", ")}]`).join(" ")}]`;
  }
  if (!isZeroDuration(policy.within)) {
    text += (text ? " and " : "") +
      `all snapshots within ${durationText(policy.within!)} of the newest`;
  }
  return `keep ${text}`;
}

/**
 * Checks that every count is a whole number ≥ 0. restic 0.14 takes a negative count and keeps
 * nothing for it (later versions read -1 as "unlimited"): refused here rather than guessed.
 *
 * @throws {ForgetPolicyError}
 */
export function checkPolicy(policy: ForgetPolicy): void {
  for (const key of COUNTS) {
    const value = policy[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new ForgetPolicyError(`keep-${key} must be a whole number ≥ 0, got ${value}`);
    }
  }
}

/** Restic's `HasTags`: every tag of `list` is on the snapshot (`""`: the snapshot has none). */
export function hasTags(info: SnapshotInfo, list: string[]): boolean {
  for (const tag of list) {
    if (tag === "" && info.record.tags.length === 0) return true;
    if (!info.record.tags.includes(tag)) return false;
  }
  return true;
}

/**
 * Splits what one of `--tag` / `--keep-tag` was given as into a tag list: comma-separated,
 * whitespace around each tag dropped (restic's `splitTagList`; `""` is the list `[""]`).
 */
export function parseTagList(text: string): string[] {
  return text.split(",").map((tag) => tag.trim());
}

/**
 * Sorts `list` newest first, as restic does before applying a policy. Snapshots of the same time
 * (restic's order among them is the order it happened to load them in) go by the order of
 * `sortSnapshots` reversed: the one the server stored last, then the greater id, first.
 */
export function newestFirst(list: SnapshotInfo[]): SnapshotInfo[] {
  return [...list].sort((a, b) =>
    b.record.timeMs - a.record.timeMs || b.storedMs - a.storedMs ||
    (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

/**
 * Applies `policy` to one group, as restic's `ApplyPolicy`: newest first, each snapshot kept for
 * every rule it matches, the counts going down as buckets are used. An empty policy keeps all
 * (reason `policy is empty`): the command refuses it before this (see `planForget`).
 *
 * @throws {ForgetPolicyError} for a negative or fractional count.
 * @example
 * ```ts
 * import { applyPolicy } from "./forget_policy.ts";
 * import { UTC_ZONE } from "./forget_time.ts";
 * import assert from "node:assert/strict";
 * const summary = {
 *   files: 0, dirs: 0, bytes: 0, filesNew: 0, filesChanged: 0, filesUnmodified: 0, bytesAdded: 0,
 * };
 * const at = (iso: string, id: string) => ({
 *   id: id.repeat(64), storedMs: 0,
 *   record: { timeMs: Date.parse(iso), tree: "00".repeat(32), paths: ["/p"], host: "h", user: "u",
 *     tags: [], summary },
 * });
 * const list = [at("2026-01-01T10:00Z", "a"), at("2026-01-01T18:00Z", "b"), at("2026-01-02T09:00Z", "c")];
 * const { keep, remove } = applyPolicy(list, { daily: 5 }, { zone: UTC_ZONE, nowMs: Date.parse("2027-01-01") });
 * assert.deepEqual(keep.map((s) => s.id[0]), ["c", "b"]);
 * assert.deepEqual(remove.map((s) => s.id[0]), ["a"]);
 * ```
 */
export function applyPolicy(
  list: SnapshotInfo[],
  policy: ForgetPolicy,
  clock: PolicyClock = {},
): PolicyOutcome {
  checkPolicy(policy);
  const sorted = newestFirst(list);
  if (isEmptyPolicy(policy)) {
    return {
      keep: sorted,
      remove: [],
      reasons: sorted.map((snapshot) => ({ snapshot, matches: ["policy is empty"], counters: {} })),
    };
  }
  const zone = clock.zone ?? LOCAL_ZONE;
  const nowMs = clock.nowMs ?? Date.now();
  // The newest snapshot not in the future; none: restic's zero time (year 1), so all are within.
  const latestMs = sorted.find((s) => s.record.timeMs < nowMs)?.record.timeMs;
  const within = (d: PolicyDuration | undefined, timeMs: number) =>
    !isZeroDuration(d) && (latestMs === undefined || timeMs > durationBefore(latestMs, d!, zone));
  const left = Object.fromEntries(COUNTS.map((key) => [key, policy[key] ?? 0]));
  const lastBucket: Record<string, number | undefined> = {};
  const outcome: PolicyOutcome = { keep: [], remove: [], reasons: [] };
  sorted.forEach((snapshot, nr) => {
    const timeMs = snapshot.record.timeMs;
    const matches: string[] = [];
    for (const list of policy.tags ?? []) {
      if (hasTags(snapshot, list)) matches.push(`has tags [${list.join(", ")}]`);
    }
    if (within(policy.within, timeMs)) matches.push(`within ${durationText(policy.within!)}`);
    for (const key of COUNTS) {
      if (left[key] <= 0) continue;
      const bucket = key === "last" ? nr : BUCKERS[key](timeMs, zone);
      if (bucket !== lastBucket[key]) {
        lastBucket[key] = bucket;
        left[key]--;
        matches.push(COUNT_REASONS[key]);
      }
    }
    for (const [key, bucker, reason] of WITHIN) {
      if (!within(policy[key], timeMs)) continue;
      const bucket = bucker(timeMs, zone);
      if (bucket !== lastBucket[key]) {
        lastBucket[key] = bucket;
        matches.push(`${reason} ${durationText(policy[key]!)}`);
      }
    }
    if (matches.length === 0) {
      outcome.remove.push(snapshot);
      return;
    }
    const counters: KeepCounters = {};
    for (const key of COUNTS) if (left[key] !== 0) counters[key] = left[key];
    outcome.keep.push(snapshot);
    outcome.reasons.push({ snapshot, matches, counters });
  });
  return outcome;
}
