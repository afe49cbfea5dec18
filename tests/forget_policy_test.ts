/**
 * `forget`'s policy against restic's own answers: tests/fixtures/restic_forget.json holds what
 * restic 0.14 kept, per group and with its reasons, for a history of 50 snapshots and 36 policies
 * (written by tools/restic_forget_fixture.ts with TZ=UTC); every policy must keep exactly the same
 * snapshots for the same reasons here. Then the rules restic's table does not pin: ties, the
 * empty policy, the order, flag values, time zones, snapshots in the future.
 */
import assert from "node:assert/strict";
import fixture from "./fixtures/restic_forget.json" with { type: "json" };
import type { SnapshotInfo } from "../client/snapshot/snapshot_select.ts";
import type { SnapshotRecord } from "../protocol/v3/snapshot.ts";
import {
  applyPolicy,
  ForgetPolicyError,
  isEmptyPolicy,
  policyText,
} from "../client/snapshot/forget_policy.ts";
import { type ForgetGroup, parseGroupBy, planForget } from "../client/snapshot/forget_plan.ts";
import {
  durationBefore,
  isoWeek,
  parseDuration,
  PolicyDurationError,
  type TimeZone,
  UTC_ZONE,
} from "../client/snapshot/forget_time.ts";
import { FORGET_FLAGS, forgetRequest } from "../cli/snapshot_forget.ts";
import { parseFlags, UsageError } from "../cli/flags.ts";
import { EMPTY_SUMMARY } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A snapshot with id `n` (as 64 hex digits). */
function snapshot(
  n: number,
  time: string,
  fields: Partial<SnapshotRecord> = {},
  storedMs = 0,
): SnapshotInfo {
  return {
    id: n.toString(16).padStart(64, "0"),
    storedMs,
    record: {
      timeMs: Date.parse(time),
      tree: "00".repeat(32),
      paths: ["/src/a"],
      host: "h1",
      user: "u",
      tags: [],
      summary: EMPTY_SUMMARY,
      ...fields,
    },
  };
}

const HISTORY = fixture.snapshots.map((s, i) =>
  snapshot(i, s.time, { host: s.host, paths: s.paths, tags: s.tags })
);
const NOW = Date.parse(fixture.generatedAt);

/** One policy of the fixture: restic's flags and, per group, the snapshots (by index) it kept. */
interface FixturePolicy {
  args: string[];
  groups: {
    host: string;
    paths: string[] | null;
    tags: string[] | null;
    keep: number[];
    remove: number[];
    reasons: { matches: string[]; counters: Record<string, number> }[];
  }[];
}
const POLICIES = fixture.policies as unknown as FixturePolicy[];
const ARG_FLAGS = {
  ...FORGET_FLAGS,
  host: { type: "string" },
  tag: { type: "string", multiple: true },
  path: { type: "string", multiple: true },
} as const;

function plan(args: string[], list = HISTORY, zone: TimeZone = UTC_ZONE): ForgetGroup[] {
  const request = forgetRequest(parseFlags(args, ARG_FLAGS, false).values);
  return planForget(list, { ...request, zone, nowMs: NOW });
}

const byKey = <T extends { host: string; paths: string[] | null; tags: string[] | null }>(
  groups: T[],
) => {
  const text = (g: T) => JSON.stringify([g.host, g.paths, g.tags]);
  return [...groups].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
};

Deno.test("the fixture covers at least 20 policies over at least 40 snapshots, in UTC", () => {
  assert.ok(POLICIES.length >= 20);
  assert.ok(fixture.snapshots.length >= 40);
  assert.equal(fixture.timeZone, "UTC");
  assert.match(fixture.restic, /^restic 0\.14\./);
  assert.equal(new Set(fixture.snapshots.map((s) => s.time)).size, fixture.snapshots.length);
});

for (const policy of POLICIES) {
  const name = policy.args.map((a) => (a === "" ? "''" : a)).join(" ");
  Deno.test(`forget ${name}: the kept set, the groups and the reasons are restic's`, () => {
    const ours = byKey(
      plan(policy.args).map((g) => ({
        host: g.key.host,
        paths: g.key.paths,
        tags: g.key.tags,
        keep: g.keep.map((s) => parseInt(s.id, 16)),
        remove: g.remove.map((s) => parseInt(s.id, 16)),
        reasons: g.reasons.map((r) => ({ matches: r.matches, counters: r.counters })),
      })),
    );
    assert.deepEqual(ours, byKey(policy.groups));
  });
}

Deno.test("snapshots of the same time: each is its own 'last', one is its day's; the later stored first", () => {
  const list = [
    snapshot(1, "2026-05-01T10:00:00Z", {}, 100),
    snapshot(2, "2026-05-01T10:00:00Z", {}, 300),
    snapshot(3, "2026-05-01T10:00:00Z", {}, 200),
  ];
  const clock = { zone: UTC_ZONE, nowMs: NOW };
  const last = applyPolicy(list, { last: 2 }, clock);
  assert.deepEqual(last.keep.map((s) => s.storedMs), [300, 200]);
  assert.deepEqual(last.remove.map((s) => s.storedMs), [100]);
  const daily = applyPolicy(list, { daily: 5 }, clock);
  assert.deepEqual(daily.keep.map((s) => s.storedMs), [300]);
  // Same time and same stored time: the greater id first, whatever the order given.
  const twins = [snapshot(7, "2026-05-01T10:00:00Z"), snapshot(9, "2026-05-01T10:00:00Z")];
  for (const order of [twins, [...twins].reverse()]) {
    assert.deepEqual(applyPolicy(order, { daily: 1 }, clock).keep.map((s) => s.id.at(-1)), ["9"]);
  }
});

Deno.test("an empty policy is refused, as restic (0.16 on) refuses it; applied alone it keeps all", () => {
  assert.throws(() => plan([]), ForgetPolicyError);
  assert.throws(() => plan(["--keep-last", "0", "--keep-within", "0d"]), /no policy was specified/);
  assert.ok(isEmptyPolicy({ last: 0, within: parseDuration("") }));
  assert.ok(!isEmptyPolicy({ tags: [[""]] }));
  const outcome = applyPolicy(HISTORY.slice(0, 3), {}, { zone: UTC_ZONE, nowMs: NOW });
  assert.equal(outcome.keep.length, 3);
  assert.deepEqual(outcome.reasons[0].matches, ["policy is empty"]);
});

Deno.test("kept and removed are newest first whatever the order given; groups in key order", () => {
  const shuffled = [...HISTORY].sort((a, b) => (a.id.at(-1)! < b.id.at(-1)! ? -1 : 1));
  const groups = plan(["--keep-daily", "3"], shuffled);
  assert.deepEqual(groups.map((g) => [g.key.host, g.key.paths?.join("+")]), [
    ["h1", "/src/a"],
    ["h1", "/src/b"],
    ["h2", "/src/b"],
    ["h3", "/src/a+/src/b"],
  ]);
  for (const group of groups) {
    for (const list of [group.keep, group.remove]) {
      const times = list.map((s) => s.record.timeMs);
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
    }
  }
});

Deno.test("flag values: counts are whole numbers ≥ 0, durations NyNmNdNh, group-by known words", () => {
  assert.throws(() => plan(["--keep-last", "-1"]), UsageError);
  assert.throws(() => plan(["--keep-daily", "2.5"]), UsageError);
  assert.throws(() => plan(["--keep-within", "2w"]), /"w" is not y, m, d or h/);
  assert.throws(() => plan(["--keep-within", "5"]), /no unit after 5/);
  assert.throws(() => plan(["--keep-last", "1", "--group-by", "user"]), /unknown grouping/);
  assert.throws(() => parseDuration("d"), PolicyDurationError);
  assert.deepEqual(parseDuration(" 2d1y "), { years: 1, months: 0, days: 2, hours: 0 });
  assert.deepEqual(parseGroupBy("hosts,path"), { host: true, paths: true, tags: false });
  assert.throws(() => applyPolicy([], { last: -1 }), ForgetPolicyError);
});

Deno.test("the policy reads as restic prints it", () => {
  const { policy } = forgetRequest(
    parseFlags(
      ["--keep-last", "2", "--keep-daily", "7", "--keep-within-weekly", "2m", "--keep-tag", "a, b"]
        .concat(["--keep-within", "1y2d"]),
      ARG_FLAGS,
      false,
    ).values,
  );
  assert.equal(
    policyText(policy),
    "keep 2 latest, 7 daily snapshots, weekly snapshots within 2m and all snapshots with tags " +
      "[[a, b]] and all snapshots within 1y2d of the newest",
  );
});

Deno.test("calendar buckets are the zone's: a day in UTC+10 starts at 14:00 UTC", () => {
  const plus10: TimeZone = {
    fields: (ms) => UTC_ZONE.fields(ms + 10 * 3_600_000),
    instant: (f) => UTC_ZONE.instant(f) - 10 * 3_600_000,
  };
  const list = [snapshot(1, "2026-05-01T13:00:00Z"), snapshot(2, "2026-05-01T15:00:00Z")];
  const utc = applyPolicy(list, { daily: 5 }, { zone: UTC_ZONE, nowMs: NOW });
  const east = applyPolicy(list, { daily: 5 }, { zone: plus10, nowMs: NOW });
  assert.equal(utc.keep.length, 1);
  assert.equal(east.keep.length, 2);
});

Deno.test("the newest snapshot is the newest not in the future; Go's AddDate overflow", () => {
  const list = [
    snapshot(1, "2026-01-01T00:00:00Z"),
    snapshot(2, "2026-01-05T00:00:00Z"),
    snapshot(3, "2099-01-01T00:00:00Z"),
  ];
  const outcome = applyPolicy(list, { within: parseDuration("2d") }, {
    zone: UTC_ZONE,
    nowMs: Date.parse("2027-01-01T00:00:00Z"),
  });
  assert.deepEqual(outcome.keep.map((s) => s.id.at(-1)), ["3", "2"]);
  const march31 = Date.parse("2026-03-31T10:00:00Z");
  assert.equal(
    new Date(durationBefore(march31, parseDuration("1m"), UTC_ZONE)).toISOString(),
    "2026-03-03T10:00:00.000Z",
  );
  assert.equal(
    new Date(durationBefore(march31, parseDuration("1y1m1d30h"), UTC_ZONE)).toISOString(),
    "2025-03-01T04:00:00.000Z",
  );
});

Deno.test("ISO weeks: year edges", () => {
  assert.deepEqual(isoWeek(2021, 1, 3), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(2021, 1, 4), { year: 2021, week: 1 });
  assert.deepEqual(isoWeek(2025, 12, 29), { year: 2026, week: 1 });
  assert.deepEqual(isoWeek(2024, 12, 31), { year: 2025, week: 1 });
  assert.deepEqual(isoWeek(2026, 6, 15), { year: 2026, week: 25 });
});

Deno.test("--keep-tag '' keeps untagged snapshots; --tag filters with restic's tag lists", () => {
  const list = [
    snapshot(1, "2026-01-01T00:00:00Z", { tags: [] }),
    snapshot(2, "2026-01-02T00:00:00Z", { tags: ["x"] }),
    snapshot(3, "2026-01-03T00:00:00Z", { tags: ["x", "y"] }),
  ];
  const [group] = plan(["--keep-tag", ""], list);
  assert.deepEqual(group.keep.map((s) => s.id.at(-1)), ["1"]);
  const filtered = plan(["--keep-last", "9", "--tag", "x,y", "--tag", ""], list);
  assert.deepEqual(filtered[0].keep.map((s) => s.id.at(-1)), ["3", "1"]);
});
