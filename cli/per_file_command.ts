/**
 * The per-file commands (protocol versions 1 and 2): `backup --files` (or a plain `backup` the
 * server keeps no snapshots for), `restore NAME`, `delete`, `versions`, `list` and `run`, over a
 * pool of connections. The command line loads this module only for them, so that a snapshot
 * command does not load the per-file client, its encryption and its pool.
 *
 * @module
 */
import { deleteNames, list, versions } from "./client_commands.ts";
import type { Output } from "./client_output.ts";
import { backupPaths } from "./client_backup.ts";
import { restore } from "./client_restore.ts";
import type { FileClient } from "../client/file_client.ts";
import { connectClient, type ConnectFlags } from "./client_connect.ts";
import { v1RefusalHint } from "./client_failure.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { type Command, readPatterns } from "./client_args.ts";
import { ClientPool } from "../client/client_pool.ts";
import { SourceRecord } from "../client/source_record.ts";
import {
  defaultEncryptionKeyPath,
  importUserKey,
  loadKeyMaterial,
} from "../client/encryption/keys.ts";
import { NameCipher } from "../client/encryption/names.ts";
import { keyUserIdPath, recordKeyUserId } from "../client/user_id.ts";
import { readBackupList, runSession } from "./run_session.ts";
import { ExitCode, parseInteger, UsageError } from "./flags.ts";

/** Connections a backup or a folder restore uses at once unless told otherwise. */
export const DEFAULT_JOBS = 4;

/** The flags the per-file commands read (as the command line parsed them). */
export interface PerFileFlags extends ConnectFlags {
  as?: string;
  output?: string;
  force?: boolean;
  jobs?: string;
  exclude?: string[];
  "exclude-from"?: string;
  delete?: boolean;
  base?: string;
  into?: string;
  encrypt?: boolean;
  "encryption-key"?: string;
  "encrypt-names"?: boolean;
  "allow-unsealed-links"?: boolean;
  checksum?: boolean;
  "dry-run"?: boolean;
}

/**
 * Who runs a per-file command and where; `opened` receives the connections as they are made, for
 * the caller to close once it has said what happened.
 */
export interface PerFileOptions {
  server: { hostname: string; port: number };
  serverText: string;
  userId: number;
  keyPath?: string;
  output: Output;
  /** Remember `userId` beside the key once signed in (see `resolveUserId`). */
  recordBesideKey: boolean;
  /** `restore --version N`. */
  versionId?: number;
  /** `restore --at T`, in milliseconds since the epoch. */
  atMs?: number;
  opened: { client?: FileClient; pool?: ClientPool };
}

/**
 * Connects and runs one per-file command; resolves its exit code.
 *
 * @throws {UsageError} for `run` without its file list, or a command that needs snapshots; what
 *   connecting and the command throw.
 */
export async function runPerFileCommand(
  command: Command,
  operands: string[],
  values: PerFileFlags,
  options: PerFileOptions,
): Promise<number> {
  const { server, userId, keyPath, output, opened } = options;
  // The session's file list is read first: a missing one is a usage error, whatever the server.
  const sessionFiles = command === "run" ? await readBackupList() : [];
  const client = opened.client = await connectClient(values, server, {
    userId,
    keyPath,
    note: (text) => output.note(text),
    warn: (text) => output.warn(text),
  });
  const jobs = values.jobs === undefined ? DEFAULT_JOBS : parseInteger("jobs", values.jobs, 1, 64);
  const pool = opened.pool = new ClientPool(
    client,
    () => connectClient(values, server, { userId, keyPath }),
    jobs,
  );
  const code = await runCommand(command, operands, values, {
    client,
    pool,
    output,
    userId,
    serverText: options.serverText,
    sessionFiles,
    versionId: options.versionId,
    atMs: options.atMs,
  });
  // The key worked for this id: remember it, so that the next command needs no --user.
  const loggedIn = client instanceof BackupClientV2 && client.authenticated;
  if (
    options.recordBesideKey && loggedIn && keyPath !== undefined &&
    await recordKeyUserId(keyPath, userId)
  ) {
    output.note(`user ${userId} remembered for this key in ${keyUserIdPath(keyPath)}`);
  }
  return code;
}

/** What a command runs with. */
interface Session {
  client: FileClient;
  pool: ClientPool;
  output: Output;
  userId: number;
  serverText: string;
  /** `run`'s file list, read before connecting. */
  sessionFiles: string[];
  /** `restore --version N`. */
  versionId?: number;
  /** `restore --at T`, in milliseconds since the epoch. */
  atMs?: number;
}

/** Runs one connected command; resolves its exit code. */
async function runCommand(
  command: Command,
  operands: string[],
  values: PerFileFlags,
  session: Session,
): Promise<number> {
  const { client, pool, output, userId, serverText, sessionFiles } = session;

  const dryRun = values["dry-run"] ?? false;
  const material = values.encrypt || values["encrypt-names"]
    ? await loadKeyMaterial(values["encryption-key"] ?? defaultEncryptionKeyPath(), userId)
    : undefined;
  const seal = values.encrypt ? await importUserKey(material!) : undefined;
  const names = values["encrypt-names"] ? await NameCipher.create(material!) : undefined;
  switch (command as Command) {
    case "backup": {
      const exclude = [
        ...values.exclude ?? [],
        ...values["exclude-from"] === undefined ? [] : await readPatterns(values["exclude-from"]),
      ];
      const { failed, uploaded, unchanged } = await backupPaths(pool, client, operands, {
        as: values.as,
        checksum: values.checksum,
        dryRun,
        exclude,
        mirror: values.delete,
        base: values.base,
        into: values.into,
        sources: await SourceRecord.load(serverText, userId),
        seal,
        names,
        force: values.force,
      }, output);
      // Version 1 refusals carry no reason: when every file was refused, say the likely one.
      if (!(client instanceof BackupClientV2) && failed > 0 && uploaded + unchanged === 0) {
        output.warn(`if the server refused them with "general error": ${v1RefusalHint(values.v1)}`);
      }
      return failed > 0 ? ExitCode.Partial : ExitCode.Ok;
    }
    case "restore": {
      const { failed } = await restore(pool, client, operands[0], {
        output: values.output,
        force: values.force,
        version: session.versionId,
        atMs: session.atMs,
        dryRun,
        seal,
        names,
        allowUnsealedLinks: values["allow-unsealed-links"],
      }, output);
      return failed > 0 ? ExitCode.Partial : ExitCode.Ok;
    }
    case "delete":
      await deleteNames(client, operands[0], dryRun, output, names);
      break;
    case "versions":
      await versions(client, operands[0], output, names);
      break;
    case "list":
      await list(client, operands[0], output, names);
      break;
    case "run":
      return await runSession(client, sessionFiles, { json: output.json });
    default:
      throw new UsageError(
        `${command} needs snapshots (protocol v3: a key and a server with them)`,
      );
  }
  return ExitCode.Ok;
}
