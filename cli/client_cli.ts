import denoConfig from "../deno.json" with { type: "json" };
import { deleteNames, list, Output, versions } from "./client_commands.ts";
import { backupPaths } from "./client_backup.ts";
import { restore } from "./client_restore.ts";
import { DEFAULT_SERVER, HELP, SERVER_FILE } from "./client_help.ts";
import type { FileClient } from "../client/file_client.ts";
import { connectClient, keyToUse, resolveUserId } from "./client_connect.ts";
import { keygenCommand } from "./keygen_command.ts";
import { profileCommand } from "./profile_command.ts";
import { applyProfile, selectProfile } from "./profiles.ts";
import { explain, type HintContext, v1RefusalHint } from "./client_failure.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { removePartialFiles } from "../client/partial_file.ts";
import {
  checkOperands,
  checkProgramVersion,
  type Command,
  COMMANDS,
  readPatterns,
  versionAsId,
} from "./client_args.ts";
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
import { runOnSnapshots } from "./snapshot_connect.ts";
import { FORGET_FLAGS } from "./snapshot_forget.ts";
import { CHECK_FLAGS } from "./snapshot_check.ts";
import { interrupt } from "./snapshot_interrupt.ts";
import {
  ExitCode,
  parseAddress,
  parseFlags,
  parseInteger,
  parseTime,
  UsageError,
  withoutLeadingDashDash,
} from "./flags.ts";

/** Connections a backup or a folder restore uses at once unless told otherwise. */
export const DEFAULT_JOBS = 4;

const FLAGS = {
  server: { type: "string" },
  user: { type: "string" },
  profile: { type: "string" },
  as: { type: "string" },
  output: { type: "string", short: "o" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  key: { type: "string" },
  tls: { type: "boolean" },
  ca: { type: "string" },
  v1: { type: "boolean" },
  cwd: { type: "string" },
  timeout: { type: "string" },
  jobs: { type: "string", short: "j" },
  exclude: { type: "string", multiple: true },
  "exclude-from": { type: "string" },
  delete: { type: "boolean" },
  base: { type: "string" },
  into: { type: "string" },
  encrypt: { type: "boolean" },
  encryption: { type: "boolean" },
  "encryption-key": { type: "string" },
  "encrypt-names": { type: "boolean" },
  "allow-unsealed-links": { type: "boolean" },
  checksum: { type: "boolean" },
  "dry-run": { type: "boolean", short: "n" },
  at: { type: "string" },
  "version-id": { type: "string" },
  // Snapshots (protocol v3): see snapshot_commands.ts.
  files: { type: "boolean" },
  host: { type: "string" },
  tag: { type: "string", multiple: true },
  path: { type: "string", multiple: true },
  "one-file-system": { type: "boolean", short: "x" },
  "exclude-caches": { type: "boolean" },
  "exclude-if-present": { type: "string", multiple: true },
  time: { type: "string" },
  parent: { type: "string" },
  stdin: { type: "boolean" },
  "stdin-filename": { type: "string" },
  long: { type: "boolean", short: "l" },
  target: { type: "string", short: "t" },
  include: { type: "string", multiple: true },
  // Encrypted repositories: see repository_secret.ts and key_command.ts.
  "password-file": { type: "string" },
  "repository-key-file": { type: "string" },
  "new-password-file": { type: "string" },
  "new-repository-key-file": { type: "string" },
  "kdf-cost": { type: "string" },
  ...FORGET_FLAGS,
  ...CHECK_FLAGS,
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** Reads `server.info` if it exists. */
async function readServerFile(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(SERVER_FILE)).trim().split("\n")[0];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Runs the client command line; resolves the exit code. */
export async function runClientCli(args: string[]): Promise<number> {
  let output = new Output(false, false);
  let client: FileClient | undefined;
  let pool: ClientPool | undefined;
  const context: HintContext = { v1: false, ca: false };
  // Ctrl-C: no half-written file is left behind; a snapshot command says what happened first
  // (a restore stops itself and removes its temporary files).
  const interrupted = () => {
    if (interrupt()) return;
    removePartialFiles();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupted);
  try {
    const { values, positionals } = parseFlags(
      versionAsId(withoutLeadingDashDash(args)),
      FLAGS,
      true,
    );
    output = new Output(values.json ?? false, values.quiet ?? false);
    context.ca = values.ca !== undefined;
    // `deno task client` runs in the project's folder and passes the caller's as --cwd.
    if (values.cwd) Deno.chdir(values.cwd);
    const [command, ...operands] = positionals;
    if (values.help) {
      console.log(HELP[COMMANDS.includes(command as Command) ? command : ""]);
      return ExitCode.Ok;
    }
    checkProgramVersion(command, values.version ?? false);
    if (values.version) {
      console.log(`backup-client ${denoConfig.version}`);
      return ExitCode.Ok;
    }
    if (!command) {
      throw new UsageError(
        "no command given: backup, restore, snapshots, ls, find, diff, dump, delete, list or run",
      );
    }
    if (!COMMANDS.includes(command as Command)) {
      throw new UsageError(`unknown command "${command}"`);
    }
    checkOperands(command as Command, operands, values);
    // Values are checked before anything else happens: a typo is not a connection attempt.
    const versionId = values["version-id"] === undefined
      ? undefined
      : parseInteger("version", values["version-id"], 1, Number.MAX_SAFE_INTEGER);
    const atMs = values.at === undefined ? undefined : parseTime("at", values.at);
    if (command === "keygen") return await keygenCommand(values, output);
    if (command === "profile") return await profileCommand(operands, values, output);
    // A typed flag wins over the profile's setting, which wins over the built-in default.
    const profile = await selectProfile(values.profile);
    Object.assign(values, applyProfile(values, profile.profile));
    context.ca = values.ca !== undefined;

    const serverText = values.server ?? await readServerFile() ?? DEFAULT_SERVER;
    const server = parseAddress(values.server ? "server" : SERVER_FILE, serverText);
    const keyPath = await keyToUse(values);
    context.v1 = keyPath === undefined;
    context.v1Flag = values.v1;
    const user = await resolveUserId(values.user, keyPath);
    const userId = user.userId;
    context.userId = userId;
    if (user.note) output.note(user.note);
    output.note(
      `user ${userId} at ${serverText}${profile.name ? ` (profile ${profile.name})` : ""}`,
    );
    const onSnapshots = await runOnSnapshots(command, operands, values, {
      server,
      userId,
      keyPath,
      output,
      recordBesideKey: user.recordBesideKey,
    });
    if (onSnapshots !== undefined) return onSnapshots;
    // The session's file list is read first: a missing one is a usage error, whatever the server.
    const sessionFiles = command === "run" ? await readBackupList() : [];
    client = await connectClient(values, server, {
      userId,
      keyPath,
      note: (text) => output.note(text),
      warn: (text) => output.warn(text),
    });
    const jobs = values.jobs === undefined
      ? DEFAULT_JOBS
      : parseInteger("jobs", values.jobs, 1, 64);
    pool = new ClientPool(client, () => connectClient(values, server, { userId, keyPath }), jobs);
    const code = await runCommand(command as Command, operands, values, {
      client,
      pool,
      output,
      userId,
      serverText,
      sessionFiles,
      versionId,
      atMs,
    });
    // The key worked for this id: remember it, so that the next command needs no --user.
    const loggedIn = client instanceof BackupClientV2 && client.authenticated;
    if (
      user.recordBesideKey && loggedIn && keyPath !== undefined &&
      await recordKeyUserId(keyPath, userId)
    ) {
      output.note(`user ${userId} remembered for this key in ${keyUserIdPath(keyPath)}`);
    }
    return code;
  } catch (error) {
    const { code, message } = explain(error, context);
    if (output.json) console.log(JSON.stringify({ ok: false, exitCode: code, error: message }));
    console.error(`backup-client: ${message}`);
    return code;
  } finally {
    Deno.removeSignalListener("SIGINT", interrupted);
    pool?.close();
    client?.close();
  }
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

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

/** Runs one connected command; resolves its exit code. */
async function runCommand(
  command: Command,
  operands: string[],
  values: Values,
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
