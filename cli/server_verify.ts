/**
 * `backup-server verify --root DIR [--user ID] [--structure-only | --read-data |
 * --read-data-subset N%] [--json]`: checks the root's structure (packs against the index, chunk
 * lists, reference counts, data files) and, by default, reads every version back against its
 * SHA-256; exit 0 only when everything holds.
 *
 * @module
 */
import { type VerifyData, type VerifyProblem, verifyRoot } from "../storage/embedded/verify.ts";
import {
  ExitCode,
  oneLine,
  parseFlags,
  parseInteger,
  UsageError,
  withoutLeadingDashDash,
} from "./flags.ts";
import { formatBytes } from "./progress.ts";

const FLAGS = {
  root: { type: "string" },
  user: { type: "string" },
  json: { type: "boolean" },
  "structure-only": { type: "boolean" },
  "read-data": { type: "boolean" },
  "read-data-subset": { type: "string" },
} as const;

/**
 * What `--read-data-subset` takes: a percentage, `N%` with N from 0 to 100 (decimals allowed).
 *
 * @throws {UsageError} otherwise.
 */
export function parseSubset(text: string): number {
  const match = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent >= 0 && percent <= 100)) {
    throw new UsageError(`--read-data-subset takes a percentage such as 10%, got "${text}"`);
  }
  return percent;
}

/**
 * Runs the verify command; resolves the exit code (1 if anything does not hold).
 *
 * @param defaultRoot the root when `--root` is not given
 */
export async function runVerifyCli(args: string[], defaultRoot: string): Promise<number> {
  let root: string, userId: number | undefined, json: boolean, data: VerifyData;
  try {
    const { values, positionals } = parseFlags(withoutLeadingDashDash(args), FLAGS, true);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    root = values.root ?? defaultRoot;
    userId = values.user === undefined
      ? undefined
      : parseInteger("user", values.user, 0, 0xffff_ffff);
    json = values.json ?? false;
    const chosen = [
      values["structure-only"] && "--structure-only",
      values["read-data"] && "--read-data",
      values["read-data-subset"] !== undefined && "--read-data-subset",
    ].filter(Boolean);
    if (chosen.length > 1) throw new UsageError(`${chosen.join(" and ")} exclude each other`);
    data = values["structure-only"]
      ? "structure"
      : values["read-data"]
      ? "all"
      : values["read-data-subset"] !== undefined
      ? { subsetPercent: parseSubset(values["read-data-subset"]) }
      : "versions";
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`backup-server verify: ${error.message} (see --help)`);
    return ExitCode.Usage;
  }
  const terminal = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let shownAt = 0;
  try {
    const report = await verifyRoot({
      root,
      userId,
      data,
      onProgress: ({ versions, bytes, packs }) => {
        if (!terminal || performance.now() - shownAt < 200) return;
        shownAt = performance.now();
        Deno.stderr.writeSync(
          encoder.encode(`\rverified ${packs} packs, ${versions} versions, ${formatBytes(bytes)}`),
        );
      },
    });
    if (terminal) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    for (const warning of report.warnings) {
      if (json) console.log(JSON.stringify({ warning }));
      else console.log(`WARNING ${warning.kind} ${warning.pack}: ${warning.detail}`);
    }
    for (const problem of report.problems) {
      if (json) console.log(JSON.stringify({ problem }));
      else console.log(problemLine(problem));
    }
    const ok = report.problems.length === 0;
    const summary = {
      ok,
      versions: report.versions,
      bytes: report.bytes,
      packs: report.packs,
      packsRead: report.packsRead,
      chunksRead: report.chunksRead,
      problems: report.problems.length,
      warnings: report.warnings.length,
      removedMeanwhile: report.removedMeanwhile,
    };
    if (json) console.log(JSON.stringify({ summary }));
    else {
      console.log(
        `verified ${report.versions} versions (${formatBytes(report.bytes)} read), ` +
          `${report.packs} packs (${report.packsRead} read whole), ` +
          `${report.chunksRead} chunks read: ` +
          (ok ? "all match" : `${report.problems.length} problems`),
      );
    }
    return ok ? ExitCode.Ok : ExitCode.Failure;
  } catch (error) {
    const reason = oneLine(error);
    console.error(`backup-server verify: ${reason}`);
    return ExitCode.Failure;
  }
}

/** A problem as one line (and one more per file it names). */
function problemLine(problem: VerifyProblem): string {
  const what = problem.name !== undefined
    ? `user ${problem.userId} ${JSON.stringify(problem.name)} (version ${problem.versionId}, ${
      problem.current ? "current" : "past"
    })`
    : problem.pack !== undefined
    ? `pack ${problem.pack}`
    : "index";
  const files = (problem.files ?? []).map((file) =>
    `\n  in user ${file.userId} ${JSON.stringify(file.name)} (version ${file.versionId}, ${
      file.current ? "current" : "past"
    })`
  );
  return `${problem.kind.toUpperCase()} ${what}: ${problem.detail}${files.join("")}`;
}
