/**
 * Writes tests/fixtures/restic_forget.json: what restic itself keeps for a synthetic history and
 * a table of `forget` policies, so that tests/forget_policy_test.ts can compare our policy with
 * restic's without restic installed.
 *
 * Makes a restic repository in a temporary folder, backs up a tiny folder once per snapshot of
 * `HISTORY` (`restic backup --time T --host H --tag T`), then runs `restic forget --dry-run
 * --json` once per policy of `POLICIES` and records, per group, which snapshots were kept (with
 * restic's reasons) and removed. Everything runs with TZ=UTC, so that the calendar buckets are
 * UTC's. Times are all different: restic orders snapshots of the same time as it happens to load
 * them, so a tie would make its answer vary between runs.
 *
 *     deno run -A tools/restic_forget_fixture.ts [--restic PATH] [--out FILE]
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One snapshot of the history: `[time (UTC), host, folders, tags]`. */
type Planned = [string, string, string[], string[]];

/** The history: hours to years apart, four groups by host and paths, mixed tags. */
export const HISTORY: Planned[] = [
  // h1, /src/a: years apart, ISO week and year edges, a dense last month, a dense last day.
  ["2019-07-04 12:00:00", "h1", ["a"], ["yearly"]],
  ["2020-02-29 08:00:00", "h1", ["a"], ["monthly"]],
  ["2020-12-31 18:00:00", "h1", ["a"], ["weekly"]], // Thursday, ISO week 2020-53
  ["2021-01-03 20:00:00", "h1", ["a"], ["weekly"]], // Sunday, still 2020-53
  ["2021-01-04 07:00:00", "h1", ["a"], ["weekly", "important"]], // Monday, 2021-01
  ["2022-06-15 12:00:00", "h1", ["a"], []],
  ["2022-12-31 23:59:59", "h1", ["a"], ["monthly"]],
  ["2023-01-01 00:00:01", "h1", ["a"], ["monthly"]],
  ["2024-02-29 12:00:00", "h1", ["a"], ["daily"]],
  ["2025-06-15 09:00:00", "h1", ["a"], ["monthly"]],
  ["2025-09-30 23:00:00", "h1", ["a"], ["monthly"]],
  ["2025-10-01 01:00:00", "h1", ["a"], ["daily"]],
  ["2025-12-28 10:00:00", "h1", ["a"], ["weekly"]], // Sunday, 2025-52
  ["2025-12-29 10:00:00", "h1", ["a"], ["weekly"]], // Monday, 2026-01
  ["2026-01-01 00:00:00", "h1", ["a"], ["daily", "important"]],
  ["2026-02-15 12:00:00", "h1", ["a"], ["daily"]],
  // The newest minus 1m is "February 31", which Go's AddDate makes March 3.
  ["2026-03-02 12:00:00", "h1", ["a"], ["daily"]],
  ["2026-03-03 09:00:00", "h1", ["a"], ["daily"]],
  ["2026-03-03 11:00:00", "h1", ["a"], ["daily"]],
  ["2026-03-24 23:30:00", "h1", ["a"], ["daily"]],
  ["2026-03-25 00:30:00", "h1", ["a"], ["daily"]],
  ["2026-03-27 12:00:00", "h1", ["a"], []],
  ["2026-03-29 06:00:00", "h1", ["a"], ["daily", "important"]],
  ["2026-03-29 18:00:00", "h1", ["a"], ["daily"]],
  ["2026-03-30 21:00:00", "h1", ["a"], ["daily"]],
  ["2026-03-31 00:10:00", "h1", ["a"], ["hourly"]],
  ["2026-03-31 01:20:00", "h1", ["a"], ["hourly"]],
  ["2026-03-31 01:50:00", "h1", ["a"], ["hourly"]],
  ["2026-03-31 03:05:00", "h1", ["a"], ["hourly"]],
  ["2026-03-31 05:40:00", "h1", ["a"], []],
  ["2026-03-31 09:59:00", "h1", ["a"], ["hourly"]],
  ["2026-03-31 10:00:00", "h1", ["a"], ["hourly"]],
  // h2, /src/b: the newest is December 31, minus 1m is "November 31", which is December 1.
  ["2023-05-05 05:05:05", "h2", ["b"], ["daily"]],
  ["2024-02-29 23:00:00", "h2", ["b"], ["monthly"]],
  ["2024-03-01 01:00:00", "h2", ["b"], ["monthly"]],
  ["2025-11-30 12:00:00", "h2", ["b"], ["daily"]],
  ["2025-12-01 22:59:00", "h2", ["b"], ["daily"]],
  ["2025-12-01 23:30:00", "h2", ["b"], ["daily"]],
  ["2025-12-24 12:00:00", "h2", ["b"], ["weekly"]],
  ["2025-12-31 22:00:00", "h2", ["b"], ["daily"]],
  ["2025-12-31 22:30:00", "h2", ["b"], []],
  ["2025-12-31 23:00:00", "h2", ["b"], ["daily"]],
  // h1, /src/b: the same host, other paths: another group by default.
  ["2024-07-01 10:00:00", "h1", ["b"], ["daily"]],
  ["2025-07-01 10:00:00", "h1", ["b"], ["daily"]],
  ["2026-03-30 10:00:00", "h1", ["b"], []],
  ["2026-03-31 10:30:00", "h1", ["b"], ["daily"]],
  // h3, two paths.
  ["2021-05-05 12:00:00", "h3", ["a", "b"], ["weekly"]],
  ["2023-08-08 08:08:08", "h3", ["a", "b"], []],
  ["2026-01-10 10:10:10", "h3", ["a", "b"], ["daily", "important"]],
  ["2026-01-11 11:11:11", "h3", ["a", "b"], ["daily"]],
];

/** The policies, as restic's flags (and ours: `client.ts forget` takes the same). */
export const POLICIES: string[][] = [
  ["--keep-last", "1"],
  ["--keep-last", "5"],
  ["--keep-hourly", "5"],
  ["--keep-hourly", "100"],
  ["--keep-daily", "7"],
  ["--keep-weekly", "4"],
  ["--keep-weekly", "10"],
  ["--keep-monthly", "6"],
  ["--keep-yearly", "3"],
  ["--keep-daily", "7", "--keep-weekly", "5", "--keep-monthly", "12", "--keep-yearly", "75"],
  ["--keep-last", "3", "--keep-daily", "2"],
  ["--keep-hourly", "2", "--keep-daily", "2", "--keep-weekly", "2", "--keep-monthly", "2"],
  ["--keep-within", "2d"],
  ["--keep-within", "1m"],
  ["--keep-within", "36h"],
  ["--keep-within", "1y2m3d4h"],
  ["--keep-within-hourly", "1d"],
  ["--keep-within-daily", "7d"],
  ["--keep-within-weekly", "2m"],
  ["--keep-within-monthly", "1y"],
  ["--keep-within-yearly", "5y"],
  ["--keep-within-daily", "1m", "--keep-within-monthly", "3y", "--keep-last", "2"],
  ["--keep-tag", "daily"],
  ["--keep-tag", "daily,important", "--keep-tag", "weekly"],
  ["--keep-tag", ""],
  ["--keep-weekly", "3", "--keep-within", "3d", "--keep-tag", "monthly"],
  ["--keep-last", "2", "--group-by", "host"],
  ["--keep-last", "2", "--group-by", ""],
  ["--keep-daily", "3", "--group-by", "host,paths,tags"],
  ["--keep-monthly", "2", "--group-by", "tags"],
  ["--keep-within", "1m", "--keep-last", "1", "--group-by", ""],
  ["--keep-last", "2", "--host", "h1"],
  ["--keep-last", "1", "--tag", "daily"],
  ["--keep-daily", "2", "--tag", "daily,important", "--tag", "weekly"],
  ["--keep-last", "1", "--path", "/src/a"],
  ["--keep-yearly", "2", "--path", "/src/a", "--path", "/src/b", "--group-by", "host"],
];

interface ResticSnapshot {
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[] | null;
}

interface ResticGroup {
  host: string;
  paths: string[] | null;
  tags: string[] | null;
  keep: ResticSnapshot[] | null;
  remove: ResticSnapshot[] | null;
  reasons:
    | { snapshot: ResticSnapshot; matches: string[]; counters: Record<string, number> }[]
    | null;
}

async function run(restic: string, args: string[], env: Record<string, string>, cwd: string) {
  const out = await new Deno.Command(restic, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`restic ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return stdout;
}

/** The fixture as JSON with one line per snapshot and per group: small, and diffs read well. */
function formatFixture(
  fixture: { snapshots: unknown[]; policies: { args: string[]; groups: unknown[] }[] },
): string {
  const { snapshots, policies, ...head } = fixture;
  const lines = Object.entries(head).map(([key, value]) =>
    `${JSON.stringify(key)}: ${JSON.stringify(value)},`
  );
  lines.push(`"snapshots": [\n${snapshots.map((s) => `  ${JSON.stringify(s)}`).join(",\n")}\n],`);
  const policyLines = policies.map((p) =>
    `  {"args": ${JSON.stringify(p.args)}, "groups": [\n` +
    p.groups.map((g) => `    ${JSON.stringify(g)}`).join(",\n") + "\n  ]}"
  );
  lines.push(`"policies": [\n${policyLines.join(",\n")}\n]`);
  return `{\n${lines.join("\n")}\n}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { restic: { type: "string" }, out: { type: "string" } },
  });
  const restic = values.restic ?? "restic";
  const outFile = values.out ?? new URL("../tests/fixtures/restic_forget.json", import.meta.url)
    .pathname;
  const dir = await Deno.makeTempDir({ prefix: "restic-forget-" });
  try {
    const src = `${dir}/src`;
    for (const folder of ["a", "b"]) {
      await Deno.mkdir(`${src}/${folder}`, { recursive: true });
      await Deno.writeTextFile(`${src}/${folder}/file.txt`, `${folder}\n`);
    }
    const env = { RESTIC_PASSWORD: "fixture", RESTIC_REPOSITORY: `${dir}/repo`, TZ: "UTC" };
    await run(restic, ["init", "--quiet"], env, dir);
    for (const [time, host, folders, tags] of HISTORY) {
      const args = ["backup", "--quiet", "--time", time, "--host", host, ...folders];
      for (const tag of tags) args.push("--tag", tag);
      await run(restic, args, env, src);
    }
    // restic records absolute paths: the temporary folder becomes /src.
    const path = (p: string) => p.startsWith(src) ? `/src${p.slice(src.length)}` : p;
    const index = new Map(
      HISTORY.map(([time], i) => [new Date(`${time.replace(" ", "T")}Z`).toISOString(), i]),
    );
    const indexOf = (s: ResticSnapshot) => {
      const i = index.get(new Date(s.time).toISOString());
      if (i === undefined) throw new Error(`restic listed an unknown snapshot at ${s.time}`);
      return i;
    };
    const policies = [];
    for (const policy of POLICIES) {
      const args = policy.map((arg) =>
        arg.startsWith("/src/") ? src + arg.slice("/src".length) : arg
      );
      const json = await run(restic, ["forget", "--dry-run", "--json", ...args], env, src);
      const groups = (JSON.parse(json) as ResticGroup[]).map((group) => ({
        host: group.host,
        paths: group.paths?.map(path) ?? null,
        tags: group.tags,
        keep: (group.keep ?? []).map(indexOf),
        remove: (group.remove ?? []).map(indexOf),
        reasons: (group.reasons ?? []).map((r) => ({ matches: r.matches, counters: r.counters })),
      }));
      // restic prints groups in a Go map's order (random): sort them by key.
      groups.sort((a, b) => {
        const ka = JSON.stringify([a.host, a.paths, a.tags]);
        const kb = JSON.stringify([b.host, b.paths, b.tags]);
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
      policies.push({ args: policy, groups });
    }
    const fixture = {
      about: "restic forget --dry-run --json for each policy; see tools/restic_forget_fixture.ts",
      restic: (await run(restic, ["version"], env, dir)).trim(),
      timeZone: "UTC",
      generatedAt: new Date().toISOString(),
      snapshots: HISTORY.map(([time, host, folders, tags]) => ({
        time: new Date(`${time.replace(" ", "T")}Z`).toISOString(),
        host,
        paths: folders.map((f) => `/src/${f}`),
        tags,
      })),
      policies,
    };
    await Deno.writeTextFile(outFile, formatFixture(fixture));
    console.log(`wrote ${outFile}: ${HISTORY.length} snapshots, ${POLICIES.length} policies`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
