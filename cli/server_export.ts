/**
 * `backup-server export --root DIR --user ID --to DIR`: a user's current files written out as a
 * folder, for operators who want plain files back.
 *
 * @module
 */
import { exportUser } from "../storage/embedded/export.ts";
import {
  ExitCode,
  oneLine,
  parseFlags,
  parseInteger,
  UsageError,
  withoutLeadingDashDash,
} from "./flags.ts";

const FLAGS = {
  root: { type: "string" },
  user: { type: "string" },
  to: { type: "string" },
} as const;

/**
 * Runs the export command; resolves the exit code.
 *
 * @param defaultRoot the root when `--root` is not given
 */
export async function runExportCli(args: string[], defaultRoot: string): Promise<number> {
  let root: string, userId: number, to: string;
  try {
    const { values, positionals } = parseFlags(withoutLeadingDashDash(args), FLAGS, true);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.user === undefined) throw new UsageError("export needs --user ID");
    if (values.to === undefined) throw new UsageError("export needs --to DIR");
    userId = parseInteger("user", values.user, 0, 0xffff_ffff);
    root = values.root ?? defaultRoot;
    to = values.to;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`backup-server export: ${error.message} (see --help)`);
    return ExitCode.Usage;
  }
  try {
    const { files, bytes } = await exportUser({ root, userId, to });
    console.log(`exported ${files} files (${bytes} bytes) of user ${userId} to ${to}`);
    return ExitCode.Ok;
  } catch (error) {
    const reason = oneLine(error);
    console.error(`backup-server export: ${reason}`);
    return ExitCode.Failure;
  }
}
