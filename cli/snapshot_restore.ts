/**
 * `restore SNAPSHOT[:PATH] --target DIR [--include G] [--exclude G]`: a snapshot (or a path in it)
 * written into a folder by the restorer, with its progress drawn; Ctrl-C stops it cleanly (no
 * temporary file left; what is in place stays) and says how far it got. A path that cannot be
 * restored is a warning line as it happens (`not restored: PATH: REASON`), the restore goes on,
 * and the command exits `ExitCode.Partial` (4; restic: 1) saying how many failed.
 *
 * @module
 */
import { restore, type RestoreProgress } from "../client/snapshot/restorer.ts";
import { ExitCode } from "./flags.ts";
import { pickSnapshot, type SnapshotContext } from "./snapshot_context.ts";
import { onInterrupt } from "./snapshot_interrupt.ts";
import { progressMode, ProgressRenderer } from "./snapshot_progress.ts";
import { shortId } from "./snapshot_render.ts";
import { printable } from "../client/safe_paths.ts";
import { formatBytes } from "./progress.ts";

/** The exit code of a command Ctrl-C ended (128 + SIGINT). */
export const INTERRUPTED_EXIT = 130;

/** Restores the snapshot `name` names into `--target`; resolves the exit code. */
export async function snapshotRestore(name: string, context: SnapshotContext): Promise<number> {
  const { session, output, flags } = context;
  const { snapshot, path } = await pickSnapshot(name, context);
  const target = flags.target!;
  output.note(
    `restoring snapshot ${shortId(snapshot.id)}${path ? `:${path}` : ""} of ` +
      `${snapshot.record.paths.join(", ")} into ${target}`,
  );
  const renderer = new ProgressRenderer("restore", { mode: progressMode(flags) });
  const stop = new AbortController();
  let last: RestoreProgress | undefined;
  const release = onInterrupt(() => {
    // The first Ctrl-C lets the restore remove what it half wrote, then this command returns; a
    // second one (a server that does not answer the gets in flight) exits at once.
    if (stop.signal.aborted) return false;
    stop.abort(new Error("interrupted"));
    return true;
  });
  try {
    const report = await restore(session, snapshot.record.tree, {
      target,
      subPath: path,
      include: flags.include,
      exclude: flags.exclude,
      signal: stop.signal,
      // A session's blobs are fresh from the wire, kept by no one: they may move to a file worker.
      transferChunks: true,
      onError: (error) => output.warn(`not restored: ${printable(error.message)}`),
      onProgress: (progress) => {
        last = progress;
        renderer.restore(progress);
      },
    });
    renderer.finish();
    for (const warning of report.warnings) output.warn(`warning: ${warning}`);
    const { errors: _, ...counts } = report;
    output.result(
      { op: "restore", snapshot: snapshot.id, target, ...counts, warnings: report.warnings.length },
      `restored ${report.files} files (${formatBytes(report.bytes)}), ${report.dirs} folders, ` +
        `${report.symlinks} links, ${report.hardLinks} hard links into ${target}` +
        (report.failed > 0 ? `; ${report.failed} could not be restored (see the warnings)` : ""),
    );
    return report.failed > 0 ? ExitCode.Partial : ExitCode.Ok;
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    renderer.finish();
    console.error(
      `backup-client: interrupted: ${last?.filesDone ?? 0} of ${last?.filesTotal ?? 0} files ` +
        `restored into ${target}; no half-written file is left`,
    );
    return INTERRUPTED_EXIT;
  } finally {
    release();
  }
}
