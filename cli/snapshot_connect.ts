/**
 * Connects the snapshot commands: a protocol version 3 session with the key, over TLS as the
 * flags say, as `client_connect.ts` does for version 2.
 *
 * @module
 */
import { SessionV3 } from "../client/session_v3.ts";
import { ProtocolV3UnsupportedError } from "../client/errors_v3.ts";
import { loadKey } from "../client/keys.ts";
import { type ConnectFlags, isLoopback } from "./client_connect.ts";
import { parseSeconds, UsageError } from "./flags.ts";
import type { Output } from "./client_commands.ts";
import { runSnapshotCommand, type SnapshotFlags, snapshotMode } from "./snapshot_commands.ts";
import { keyUserIdPath, recordKeyUserId } from "../client/user_id.ts";
import { RollbackWatch, watchedSession } from "../client/snapshot/rollback_watch.ts";
import { seenAccount } from "./snapshots_seen.ts";

/** Who connects, and where people are told. */
export interface SnapshotConnectOptions {
  userId: number;
  /** The key; without one there is no version 3. */
  keyPath?: string;
  /** `if-spoken`: resolve `undefined` if the server has no version 3 (the caller falls back). */
  fallback: boolean;
  /** A warning whatever `--quiet` says. */
  warn?: (text: string) => void;
}

/**
 * A version 3 session, or `undefined` when the server does not speak it and `fallback` is set.
 *
 * @throws {UsageError} without a key; {ProtocolV3UnsupportedError} without `fallback`; what
 *   `SessionV3.connect` throws.
 */
export async function connectSnapshots(
  flags: ConnectFlags,
  server: { hostname: string; port: number },
  options: SnapshotConnectOptions,
): Promise<SessionV3 | undefined> {
  if (flags.v1) throw new UsageError("--v1 does not go with snapshots (protocol version 3)");
  if (options.keyPath === undefined) {
    throw new UsageError("snapshots need protocol version 3: a key (see keygen)");
  }
  const caCerts = flags.ca === undefined ? undefined : [await readCa(flags.ca)];
  const timeoutMs = flags.timeout === undefined
    ? undefined
    : parseSeconds("timeout", flags.timeout);
  const tls = flags.tls || caCerts !== undefined;
  if (!tls && !isLoopback(server.hostname)) {
    options.warn?.(
      `warning: authenticating to ${server.hostname} over plain TCP: the session travels in ` +
        `clear and can be read or altered on the way; use --tls (and the server's TLS port)`,
    );
  }
  try {
    return await SessionV3.connect({
      ...server,
      tls,
      caCerts,
      timeoutMs,
      userId: options.userId,
      key: await loadKey(options.keyPath),
    });
  } catch (error) {
    if (options.fallback && error instanceof ProtocolV3UnsupportedError) return undefined;
    throw error;
  }
}

async function readCa(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`cannot read --ca ${path}: ${(error as Error).message}`);
  }
}

/** Who runs a command and where, for `runOnSnapshots`. */
export interface SnapshotRunOptions {
  server: { hostname: string; port: number };
  userId: number;
  keyPath?: string;
  output: Output;
  /** Remember `userId` beside the key once signed in (see `resolveUserId`). */
  recordBesideKey: boolean;
}

/**
 * Runs `command` on snapshots if it is one (see `snapshotMode`): resolves its exit code, or
 * `undefined` if it is a per-file command, or a plain `backup` and the server has no version 3
 * (after a note): the caller then runs it as before.
 */
export async function runOnSnapshots(
  command: string,
  operands: string[],
  values: ConnectFlags & SnapshotFlags & Record<string, unknown>,
  options: SnapshotRunOptions,
): Promise<number | undefined> {
  const { output, userId, keyPath } = options;
  const mode = snapshotMode(command, values, keyPath !== undefined && !values.v1);
  if (mode === "never") return undefined;
  const session = await connectSnapshots(values, options.server, {
    userId,
    keyPath,
    fallback: mode === "if-spoken",
    warn: (text) => output.warn(text),
  });
  if (!session) {
    output.note("the server keeps no snapshots (protocol v3): backing up file by file (v2)");
    return undefined;
  }
  const seen = await seenAccount(`${options.server.hostname}:${options.server.port}`, userId);
  const watch = new RollbackWatch(seen?.remembered ?? {}, (text) => output.warn(text));
  try {
    const code = await runSnapshotCommand(command, operands, {
      session: watchedSession(session, watch),
      output,
      flags: values,
    });
    if (seen && watch.changed) await seen.save(watch.remembered());
    // Signed in with this id: remember it beside the key, as a version 2 command does.
    if (
      options.recordBesideKey && keyPath !== undefined && await recordKeyUserId(keyPath, userId)
    ) {
      output.note(`user ${userId} remembered for this key in ${keyUserIdPath(keyPath)}`);
    }
    return code;
  } finally {
    await session.close();
  }
}
