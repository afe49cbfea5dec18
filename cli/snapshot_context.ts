/**
 * What every snapshot command runs with: the flags they read, the session, and how a command
 * line's snapshot name becomes a snapshot.
 *
 * @module
 */
import type { SnapshotSessionLike } from "../client/snapshot/snapshot_session.ts";
import { readSnapshotList } from "../client/snapshot/snapshot_session.ts";
import {
  parseSnapshotRef,
  selectSnapshot,
  type SnapshotFilter,
  type SnapshotInfo,
  type SnapshotRef,
  SnapshotRefError,
} from "../client/snapshot/snapshot_select.ts";
import { defaultHost } from "../client/snapshot/snapshot_backup.ts";
import type { Output } from "./client_commands.ts";
import { UsageError } from "./flags.ts";
import type { KeySlotSession } from "./key_command.ts";
import type { Unlocked } from "../client/repository_unlock.ts";

/** The flags the snapshot commands read. */
export interface SnapshotFlags {
  host?: string;
  path?: string[];
  tag?: string[];
  json?: boolean;
  quiet?: boolean;
  long?: boolean;
  target?: string;
  include?: string[];
  exclude?: string[];
  "exclude-from"?: string;
  "one-file-system"?: boolean;
  "exclude-caches"?: boolean;
  "exclude-if-present"?: string[];
  time?: string;
  parent?: string;
  stdin?: boolean;
  "stdin-filename"?: string;
  force?: boolean;
  "password-file"?: string;
  "repository-key-file"?: string;
  "new-password-file"?: string;
  "new-repository-key-file"?: string;
  "kdf-cost"?: string;
  strict?: boolean;
}

/** What a snapshot command runs with. */
export interface SnapshotContext {
  session: SnapshotSessionLike;
  output: Output;
  flags: SnapshotFlags;
  /** The account's key slots (`init`, `key`). */
  keys?: KeySlotSession;
  /** What opened the repository (plain, or the slot of an encrypted one). */
  unlocked?: Unlocked;
  /** Writes bytes to standard output (`dump`; tests pass their own). */
  stdout?: (bytes: Uint8Array) => Promise<void>;
}

/** The filter the flags give; `latest` and `find` default to this host's snapshots. */
export function flagFilter(flags: SnapshotFlags, thisHost: boolean): SnapshotFilter {
  return {
    host: flags.host ?? (thisHost ? defaultHost() : undefined),
    paths: flags.path,
    tags: flags.tag,
  };
}

/**
 * The snapshot `name` stands for, with its `:PATH` if any.
 *
 * @throws {UsageError} for a name that is not `latest` or hex; {SnapshotSelectError}.
 */
export async function pickSnapshot(
  name: string,
  context: SnapshotContext,
): Promise<{ snapshot: SnapshotInfo; path?: string }> {
  const ref = snapshotRef(name);
  const list = await readSnapshotList(context.session);
  return { snapshot: selectSnapshot(list, ref, flagFilter(context.flags, true)), path: ref.path };
}

/** `parseSnapshotRef` of a command line's name. @throws {UsageError} for a name it refuses. */
export function snapshotRef(name: string): SnapshotRef {
  try {
    return parseSnapshotRef(name);
  } catch (error) {
    if (error instanceof SnapshotRefError) throw new UsageError(error.message);
    throw error;
  }
}
