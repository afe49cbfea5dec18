/**
 * What `forget` with a policy would do to a user's snapshots, as restic 0.14 decides it: the
 * snapshots `--host`, `--tag` and `--path` let through, grouped as `--group-by` says (default
 * `host,paths`), the policy applied to each group (forget_policy.ts). Pure: the caller lists the
 * snapshots and forgets what the plan removes.
 *
 * @module
 */
import type { SnapshotInfo } from "./snapshot_select.ts";
import {
  applyPolicy,
  type ForgetPolicy,
  ForgetPolicyError,
  hasTags,
  isEmptyPolicy,
  type PolicyClock,
  type PolicyOutcome,
} from "./forget_policy.ts";

/** Which fields make a group (restic's `--group-by host,paths,tags`; none: one group). */
export interface GroupBy {
  /** By host. */
  host: boolean;
  /** By the set of paths. */
  paths: boolean;
  /** By the set of tags. */
  tags: boolean;
}

/** The snapshots forget considers; empty fields do not narrow (restic's semantics). */
export interface ForgetFilter {
  /** Snapshots of any of these hosts. */
  hosts?: string[];
  /** Snapshots carrying every tag of one of these lists (`[""]`: untagged ones). */
  tags?: string[][];
  /** Snapshots whose paths include every one of these. */
  paths?: string[];
}

/** One group's key, as restic's JSON prints it: fields not grouped by are `""` / `null`. */
export interface GroupKey {
  /** The host, or `""`. */
  host: string;
  /** The paths, sorted, or `null`. */
  paths: string[] | null;
  /** The tags, sorted, or `null` (also for untagged snapshots, as restic). */
  tags: string[] | null;
}

/** What the policy does to one group. */
export interface ForgetGroup extends PolicyOutcome {
  /** What the group's snapshots share. */
  key: GroupKey;
}

/** What to plan with. */
export interface ForgetPlanOptions extends PolicyClock {
  /** What to keep. */
  policy: ForgetPolicy;
  /** How to group; default by host and paths, as restic. */
  groupBy?: GroupBy;
  /** Which snapshots to consider; default all. */
  filter?: ForgetFilter;
}

/** restic's default grouping. */
export const DEFAULT_GROUP_BY: GroupBy = { host: true, paths: true, tags: false };

/**
 * Parses `--group-by`: a comma-separated subset of `host`, `paths`, `tags` (singular forms too);
 * `""` groups everything together.
 *
 * @throws {ForgetPolicyError} for another word.
 * @example
 * ```ts
 * import { parseGroupBy } from "./forget_plan.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseGroupBy("host,tags"), { host: true, paths: false, tags: true });
 * assert.deepEqual(parseGroupBy(""), { host: false, paths: false, tags: false });
 * ```
 */
export function parseGroupBy(text: string): GroupBy {
  const groupBy = { host: false, paths: false, tags: false };
  for (const word of text.split(",")) {
    if (word === "host" || word === "hosts") groupBy.host = true;
    else if (word === "path" || word === "paths") groupBy.paths = true;
    else if (word === "tag" || word === "tags") groupBy.tags = true;
    else if (word !== "") {
      throw new ForgetPolicyError(
        `unknown grouping option "${word}": --group-by takes host, paths and tags, comma-separated`,
      );
    }
  }
  return groupBy;
}

/** The snapshots `filter` lets through (restic's `HasHostname`, `HasTagList`, `HasPaths`). */
export function filterForForget(list: SnapshotInfo[], filter: ForgetFilter): SnapshotInfo[] {
  return list.filter((info) => {
    const { record } = info;
    if (filter.hosts?.length && !filter.hosts.includes(record.host)) return false;
    if (filter.tags?.length && !filter.tags.some((tags) => hasTags(info, tags))) return false;
    return (filter.paths ?? []).every((path) => record.paths.includes(path));
  });
}

/** The key of `info`'s group: paths and tags sorted, as restic's `GroupSnapshots`. */
export function groupKey(info: SnapshotInfo, groupBy: GroupBy): GroupKey {
  return {
    host: groupBy.host ? info.record.host : "",
    paths: groupBy.paths ? [...info.record.paths].sort() : null,
    // restic's JSON has null for an untagged snapshot's tags (a Go nil list), grouped or not.
    tags: groupBy.tags && info.record.tags.length > 0 ? [...info.record.tags].sort() : null,
  };
}

/**
 * Groups, then applies the policy to each group; groups in the order of their keys (restic's is
 * a Go map's: random). Kept and removed snapshots of each group are newest first.
 *
 * @throws {ForgetPolicyError} for an empty policy (restic since 0.16 refuses it too; 0.14 only
 *   said it removed nothing), or a count out of range.
 */
export function planForget(list: SnapshotInfo[], options: ForgetPlanOptions): ForgetGroup[] {
  if (isEmptyPolicy(options.policy)) {
    throw new ForgetPolicyError(
      "no policy was specified, no snapshots will be removed: give --keep-* flags or snapshot ids",
    );
  }
  const groupBy = options.groupBy ?? DEFAULT_GROUP_BY;
  const groups = new Map<string, { key: GroupKey; members: SnapshotInfo[] }>();
  for (const info of filterForForget(list, options.filter ?? {})) {
    const key = groupKey(info, groupBy);
    const text = JSON.stringify(key);
    const group = groups.get(text) ?? groups.set(text, { key, members: [] }).get(text)!;
    group.members.push(info);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map((
    [, { key, members }],
  ) => ({ key, ...applyPolicy(members, options.policy, options) }));
}
