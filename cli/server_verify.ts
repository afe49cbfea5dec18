/**
 * `backup-server verify --root DIR [--user ID] [--json]`: checks every stored version against its
 * SHA-256; exit 0 only when all match.
 *
 * @module
 */
import { verifyRoot } from "../storage/embedded/verify.ts";
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
} as const;

/**
 * Runs the verify command; resolves the exit code (1 if any version does not match).
 *
 * @param defaultRoot the root when `--root` is not given
 */
export async function runVerifyCli(args: string[], defaultRoot: string): Promise<number> {
  let root: string, userId: number | undefined, json: boolean;
  try {
    const { values, positionals } = parseFlags(withoutLeadingDashDash(args), FLAGS, true);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    root = values.root ?? defaultRoot;
    userId = values.user === undefined
      ? undefined
      : parseInteger("user", values.user, 0, 0xffff_ffff);
    json = values.json ?? false;
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
      onProgress: ({ versions, bytes }) => {
        if (!terminal || performance.now() - shownAt < 200) return;
        shownAt = performance.now();
        Deno.stderr.writeSync(
          encoder.encode(`\rverified ${versions} versions, ${formatBytes(bytes)}`),
        );
      },
    });
    if (terminal) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    for (const problem of report.problems) {
      if (json) console.log(JSON.stringify({ problem }));
      else {
        const which = problem.current ? "current" : "past";
        console.log(
          `${problem.kind.toUpperCase()} user ${problem.userId} ${JSON.stringify(problem.name)} ` +
            `(version ${problem.versionId}, ${which}): ${problem.detail}`,
        );
      }
    }
    const ok = report.problems.length === 0;
    const summary = {
      ok,
      versions: report.versions,
      bytes: report.bytes,
      problems: report.problems.length,
      removedMeanwhile: report.removedMeanwhile,
    };
    if (json) console.log(JSON.stringify({ summary }));
    else {
      console.log(
        `verified ${report.versions} versions (${formatBytes(report.bytes)}): ` +
          (ok ? "all match" : `${report.problems.length} do not match`),
      );
    }
    return ok ? ExitCode.Ok : ExitCode.Failure;
  } catch (error) {
    const reason = oneLine(error);
    console.error(`backup-server verify: ${reason}`);
    return ExitCode.Failure;
  }
}
