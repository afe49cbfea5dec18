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

/** A plain file-by-file backup asked for an account whose repository is encrypted. */
export class PlainFilesError extends UsageError {
  /** Builds the error with what to do. */
  constructor() {
    super(
      "this account's repository is encrypted (a passphrase or key file is configured, or this " +
        "client opened it encrypted before), but this backup stores files one by one, in " +
        "clear: make a snapshot (leave out --files and the per-file flags), or seal the files " +
        "with --encrypt",
    );
  }
}
import type { Output } from "./client_commands.ts";
import { runSnapshotCommand, type SnapshotFlags, snapshotMode } from "./snapshot_commands.ts";
import { keyUserIdPath, recordKeyUserId } from "../client/user_id.ts";
import { RollbackWatch, watchedSession } from "../client/snapshot/rollback_watch.ts";
import { seenAccount } from "./snapshots_seen.ts";
import { PLAIN_CODEC } from "../client/blob_wire_v3.ts";
import { unlockRepository } from "../client/repository_unlock.ts";
import { currentSecret, secretGiven } from "./repository_secret.ts";

/** Who connects, and where people are told. */
export interface SnapshotConnectOptions {
  userId: number;
  /** The key; without one there is no version 3. */
  keyPath?: string;
  /** `if-spoken`: resolve `undefined` if the server has no version 3 (the caller falls back). */
  fallback: boolean;
  /** A warning whatever `--quiet` says. */
  warn?: (text: string) => void;
  /** The command waits on the server's long work (a prune): `PRUNE_TIMEOUT_MS` unless typed. */
  longWork?: boolean;
}

/**
 * The silence allowed without `--timeout` while the server prunes: its answer comes only once the
 * whole garbage collection of a large repository is done.
 */
export const PRUNE_TIMEOUT_MS = 60 * 60_000;

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
    ? options.longWork ? PRUNE_TIMEOUT_MS : undefined
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
  // A repository's secret, or an account this client opened encrypted before, means: encrypted
  // snapshots, never a plain file-by-file backup instead (whatever a server says it speaks).
  const seen = await seenAccount(`${options.server.hostname}:${options.server.port}`, userId);
  const given = secretGiven(values);
  const encrypted = given || (seen?.encrypted ?? false);
  if (mode === "never") {
    if (encrypted && command === "backup" && !values.encrypt) throw new PlainFilesError();
    return undefined;
  }
  const session = await connectSnapshots(values, options.server, {
    userId,
    keyPath,
    fallback: mode === "if-spoken" && !encrypted,
    longWork: command === "prune" || (command === "forget" && values.prune === true),
    warn: (text) => output.warn(text),
  });
  if (!session) {
    output.note("the server keeps no snapshots (protocol v3): backing up file by file (v2)");
    return undefined;
  }
  try {
    // Before anything else: a repository that is encrypted needs its key for every command, and
    // one this client opened encrypted stays so whatever the server says later.
    const unlocked = command === "init" ? { codec: PLAIN_CODEC } : await unlockRepository(
      await session.listKeySlots(),
      currentSecret(values),
      { given, remembered: seen?.encrypted ?? false },
    );
    session.useCodec(unlocked.codec, (id) =>
      output.warn(
        `snapshot ${id.slice(0, 8)} does not open with this repository's key (made with another ` +
          `key, or by another hand): left out; forget ${id} removes it`,
      ));
    if (seen && unlocked.codec.encrypted && !seen.encrypted) await seen.markEncrypted();
    const watch = new RollbackWatch(seen?.remembered ?? {}, (text) => output.warn(text), {
      strict: values.strict === true,
    });
    const code = await runSnapshotCommand(command, operands, {
      session: watchedSession(session, watch),
      output,
      flags: values,
      keys: session,
      unlocked,
    });
    if (seen && watch.changed) await seen.save(watch.remembered());
    if (seen && command === "init" && code === 0) await seen.markEncrypted();
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
