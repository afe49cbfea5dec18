/**
 * `backup PATH...` as one snapshot (protocol version 3): the flags become the archiver's options,
 * its events the progress line, and its result the summary; Ctrl-C says what the interrupted run
 * leaves (no snapshot; what was sent stays on the server and is not sent again).
 *
 * @module
 */
import { backupSnapshot, currentUser, defaultHost } from "../client/snapshot/snapshot_backup.ts";
import { readPatterns } from "./client_args.ts";
import { ExitCode, parseTime, UsageError } from "./flags.ts";
import type { SnapshotContext } from "./snapshot_context.ts";
import { onInterrupt } from "./snapshot_interrupt.ts";
import { progressMode, ProgressRenderer } from "./snapshot_progress.ts";
import { backupSummary, shortId } from "./snapshot_render.ts";

const MIB = 1024 * 1024;

/** The line Ctrl-C prints during a snapshot backup. */
export function interruptedBackupLine(bytesSent: number, committing = false): string {
  const sent = `${(bytesSent / MIB).toFixed(1)} MiB already on the server will not be sent again`;
  // Once the commit is sent, the server finishes it whatever becomes of this process.
  return committing
    ? `interrupted while the snapshot was being committed: it may have been made (see snapshots); ${sent}`
    : `interrupted: no snapshot made; ${sent}`;
}

/** Runs a snapshot backup of `paths`; resolves the exit code (4 if some paths were left out). */
export async function snapshotBackup(paths: string[], context: SnapshotContext): Promise<number> {
  const { session, output, flags } = context;
  if (flags.stdin && paths.length > 0) {
    throw new UsageError("backup --stdin takes no PATH (name the file with --stdin-filename)");
  }
  if (!flags.stdin && paths.length === 0) throw new UsageError("backup needs at least one PATH");
  const exclude = [
    ...flags.exclude ?? [],
    ...flags["exclude-from"] === undefined ? [] : await readPatterns(flags["exclude-from"]),
  ];
  const timeMs = flags.time === undefined ? undefined : parseTime("time", flags.time);
  const mode = progressMode(flags);
  const renderer = new ProgressRenderer("backup", { mode });
  const started = performance.now();
  let committing = false;
  const release = onInterrupt(() => {
    renderer.finish();
    console.error(`backup-client: ${interruptedBackupLine(renderer.bytesSent, committing)}`);
    return false; // nothing to clean up here: the process ends, the server keeps what it got
  });
  try {
    const made = await backupSnapshot(session, paths, {
      host: flags.host ?? defaultHost(),
      user: currentUser(),
      tags: flags.tag?.flatMap((tag) => tag.split(",")).filter((tag) => tag !== ""),
      timeMs,
      parent: flags.parent,
      stdin: flags.stdin
        ? { stream: Deno.stdin.readable, name: flags["stdin-filename"] ?? "stdin" }
        : undefined,
      archive: {
        exclude,
        excludeCaches: flags["exclude-caches"],
        excludeIfPresent: flags["exclude-if-present"],
        oneFileSystem: flags["one-file-system"],
        // Totals are only for a drawn or JSON progress: the scan is a second walk of the tree.
        scan: mode !== "none",
        onEvent: (event) => renderer.archive(event),
      },
      onCommitting: () => committing = true,
      onParent: (parent) =>
        output.note(
          parent
            ? `using parent snapshot ${shortId(parent.id)}`
            : "no parent snapshot: every file is read",
        ),
    });
    renderer.finish();
    const errors = made.result.errors;
    output.result(
      {
        op: "backup",
        snapshot: made.id,
        parent: made.parent?.id,
        ...made.record.summary,
        errors,
        warnings: made.result.warnings,
        bytesSent: made.bytesSent,
      },
      backupSummary(made.id, made.record, performance.now() - started, errors),
    );
    return errors > 0 ? ExitCode.Partial : ExitCode.Ok;
  } finally {
    renderer.finish();
    release();
  }
}
