/**
 * `forget [SNAPSHOT...] [--keep-* ...] [--dry-run] [--prune]`: restic's forget for the user's
 * snapshots.
 * With snapshot names, forgets those; with a policy, lists the snapshots, plans as restic 0.14
 * does (client/snapshot/forget_plan.ts), prints what is kept and why and what is removed, and
 * forgets the removed ones unless `--dry-run`. The chunks they alone used are freed by the
 * server's garbage collection, at once with `--prune` (`snapshot_prune.ts`, which prints what
 * the user's usage dropped by). Calendar buckets are in this machine's
 * time zone (`TZ`), as restic's.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { pruneAndReport } from "./snapshot_prune.ts";
import { readSnapshotList } from "../client/snapshot/snapshot_session.ts";
import { selectSnapshot, type SnapshotInfo } from "../client/snapshot/snapshot_select.ts";
import {
  type ForgetPolicy,
  ForgetPolicyError,
  isEmptyPolicy,
  parseTagList,
  policyText,
} from "../client/snapshot/forget_policy.ts";
import {
  DEFAULT_GROUP_BY,
  type ForgetFilter,
  type ForgetGroup,
  type GroupBy,
  parseGroupBy,
  planForget,
} from "../client/snapshot/forget_plan.ts";
import { parseDuration, PolicyDurationError } from "../client/snapshot/forget_time.ts";
import { ExitCode, parseInteger, UsageError } from "./flags.ts";
import { forgetJson, groupText } from "./forget_render.ts";
import { shortId } from "./snapshot_render.ts";
import { flagFilter, type SnapshotContext, snapshotRef } from "./snapshot_context.ts";
import { FORGET_FLAGS } from "./forget_flags.ts";

export { FORGET_FLAG_NAMES, FORGET_FLAGS } from "./forget_flags.ts";

/** The flags `forget` reads: its own (`FORGET_FLAGS`, as parsed) and the shared ones. */
export type ForgetFlags =
  & Partial<Record<Exclude<keyof typeof FORGET_FLAGS, "keep-tag" | "prune">, string>>
  & {
    "keep-tag"?: string[];
    prune?: boolean;
    "dry-run"?: boolean;
    host?: string;
    tag?: string[];
    path?: string[];
  };

/** The account may not forget (append-only): nothing was forgotten. */
export class ForgetRefusedError extends BackupError {}

/** What the flags ask for: a policy, its grouping and the snapshots it considers. */
export interface ForgetRequest {
  /** `--keep-*`. */
  policy: ForgetPolicy;
  /** `--group-by`. */
  groupBy: GroupBy;
  /** `--host`, `--tag`, `--path`. */
  filter: ForgetFilter;
}

const COUNT_FLAGS = [
  ["last", "keep-last"],
  ["hourly", "keep-hourly"],
  ["daily", "keep-daily"],
  ["weekly", "keep-weekly"],
  ["monthly", "keep-monthly"],
  ["yearly", "keep-yearly"],
] as const;
const DURATION_FLAGS = [
  ["within", "keep-within"],
  ["withinHourly", "keep-within-hourly"],
  ["withinDaily", "keep-within-daily"],
  ["withinWeekly", "keep-within-weekly"],
  ["withinMonthly", "keep-within-monthly"],
  ["withinYearly", "keep-within-yearly"],
] as const;

/**
 * The policy, grouping and filter `flags` give.
 *
 * @throws {UsageError} for a count that is not a whole number, a duration that is not like
 *   `1y5m7d2h`, or an unknown `--group-by` word.
 */
export function forgetRequest(flags: ForgetFlags): ForgetRequest {
  const policy: ForgetPolicy = {};
  for (const [key, flag] of COUNT_FLAGS) {
    const text = flags[flag];
    if (text !== undefined) policy[key] = parseInteger(flag, text, 0, Number.MAX_SAFE_INTEGER);
  }
  try {
    for (const [key, flag] of DURATION_FLAGS) {
      const text = flags[flag];
      if (text !== undefined) policy[key] = parseDuration(text);
    }
    if (flags["keep-tag"]?.length) policy.tags = flags["keep-tag"].map(parseTagList);
    const groupBy = flags["group-by"] === undefined
      ? DEFAULT_GROUP_BY
      : parseGroupBy(flags["group-by"]);
    const filter: ForgetFilter = {
      hosts: flags.host === undefined ? undefined : [flags.host],
      tags: flags.tag?.map(parseTagList),
      paths: flags.path,
    };
    return { policy, groupBy, filter };
  } catch (error) {
    if (error instanceof PolicyDurationError || error instanceof ForgetPolicyError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/**
 * Runs `forget`; resolves its exit code.
 *
 * @throws {UsageError} for an empty policy, snapshot names with a policy, a bad flag;
 *   {ForgetRefusedError} for an append-only account (before anything is forgotten); what the
 *   session throws.
 */
export async function snapshotForget(
  operands: string[],
  context: SnapshotContext,
): Promise<number> {
  const { session, output } = context;
  const flags = context.flags as ForgetFlags;
  const request = forgetRequest(flags);
  if (operands.length > 0 && !isEmptyPolicy(request.policy)) {
    throw new UsageError("forget takes snapshot names or --keep-* flags, not both");
  }
  const dryRun = flags["dry-run"] ?? false;
  const list = await readSnapshotList(session);
  let remove: Array<{ id: string }>;
  let groups: ForgetGroup[] = [];
  if (operands.length > 0) {
    remove = named(list, operands, context);
  } else {
    try {
      groups = planForget(list, request);
    } catch (error) {
      if (error instanceof ForgetPolicyError) throw new UsageError(error.message);
      throw error;
    }
    output.note(`Applying Policy: ${policyText(request.policy)}`);
    remove = groups.flatMap((group) => group.remove);
    if (!output.json && !output.quiet) {
      for (const group of groups) console.log(groupText(group));
    }
  }
  const appendOnly = (session as { appendOnly?: boolean }).appendOnly ?? false;
  if (appendOnly && !dryRun && remove.length > 0) {
    throw new ForgetRefusedError(
      `this account is append-only: the server refuses to forget snapshots (only the ` +
        `operator's retention removes them); nothing was forgotten (${remove.length} would be)`,
    );
  }
  if (dryRun) {
    if (remove.length > 0) {
      output.note(
        `Would have removed the following snapshots:\n{${
          remove.map((s) => shortId(s.id)).join(" ")
        }}`,
      );
    } else output.note("nothing to remove");
  } else {
    for (const snapshot of remove) {
      await session.forgetSnapshot(snapshot.id);
      output.note(`removed snapshot ${shortId(snapshot.id)}`);
    }
    output.note(`${remove.length} snapshot${remove.length === 1 ? "" : "s"} removed`);
  }
  if (output.json) {
    console.log(
      JSON.stringify(
        operands.length > 0 ? { removed: remove.map((s) => s.id), dryRun } : forgetJson(groups),
      ),
    );
  }
  if (flags.prune) {
    if (dryRun) output.note("--dry-run: nothing pruned");
    else await pruneAndReport(context);
  }
  return ExitCode.Ok;
}

/**
 * The snapshots named on the command line, each once (`latest` is this host's or --host's). A
 * whole id that the list lacks is taken as it is: a snapshot whose record could not be read (left
 * out of the list) can still be forgotten (the server says if there is none).
 */
function named(
  list: SnapshotInfo[],
  names: string[],
  context: SnapshotContext,
): Array<{ id: string }> {
  const found = new Map<string, { id: string }>();
  for (const name of names) {
    const ref = snapshotRef(name);
    if (ref.path !== undefined) throw new UsageError(`forget takes snapshots, not paths: ${name}`);
    if (ref.name.length === 64 && !list.some((snapshot) => snapshot.id === ref.name)) {
      found.set(ref.name, { id: ref.name });
      continue;
    }
    const snapshot = selectSnapshot(list, ref, flagFilter(context.flags, true));
    found.set(snapshot.id, snapshot);
  }
  return [...found.values()];
}
