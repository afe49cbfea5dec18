import denoConfig from "../deno.json" with { type: "json" };
import { BackupClient } from "../client/backup_client.ts";
import { loadOrCreateUserId } from "../client/user_id.ts";
import {
  ConnectionLostError,
  FileNotFoundError,
  InvalidNameError,
  ProtocolError,
  ServerError,
} from "../protocol/errors.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import { createProgress, formatBytes } from "./progress.ts";
import { readBackupList, runSession } from "./run_session.ts";
import {
  ExitCode,
  parseAddress,
  parseFlags,
  parseInteger,
  UsageError,
  withoutLeadingDashDash,
} from "./usage_error.ts";

/** File in the working directory naming the server as `HOST:PORT`, as the original client reads it. */
export const SERVER_FILE = "server.info";
const DEFAULT_SERVER = "127.0.0.1:1234";

const HELP = `backup-client ${denoConfig.version}: backs up files to a backup-server (protocol v1).

Usage:
  backup-client backup FILE... [--as NAME]   store files (under their base names, or NAME for one file)
  backup-client restore NAME [-o PATH]       fetch a file (to ./<base name>, or PATH; --force overwrites)
  backup-client delete NAME                  remove a stored file
  backup-client list                         list stored files, one per line
  backup-client run                          the original client's session: reads ${SERVER_FILE} and
                                             backup.info, then list, backup, list, restore, delete, restore

Options:
  --server HOST:PORT   the server (default: ./${SERVER_FILE} if present, else ${DEFAULT_SERVER})
  --user ID            user id 0..4294967295 (default: a random id made once and kept in
                       ~/.config/backup-client/user-id)
  --json               print results as JSON (one object per command) for scripts
  --quiet              no progress line and no notes on stderr
  --help, --version

Examples:
  backup-client backup notes.txt photo.jpg
  backup-client backup ./build/report.pdf --as reports/2026-11.pdf
  backup-client restore reports/2026-11.pdf -o ./report.pdf
  backup-client list --server backup.example.org:1234 --json

Exit codes: 0 ok, 1 the server answered with an error, 2 usage or local file error,
3 cannot connect or connection lost.`;

const FLAGS = {
  server: { type: "string" },
  user: { type: "string" },
  as: { type: "string" },
  output: { type: "string", short: "o" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const COMMANDS = ["backup", "restore", "delete", "list", "run"] as const;
type Command = typeof COMMANDS[number];

/** Writes results for people or, with `--json`, for scripts. */
class Output {
  constructor(readonly json: boolean, readonly quiet: boolean) {}

  /** A result: a JSON line, or the human text on stdout. */
  result(fields: Record<string, unknown>, human: string): void {
    console.log(this.json ? JSON.stringify({ ok: true, ...fields }) : human);
  }

  /** A side note for people, on stderr. */
  note(text: string): void {
    if (!this.quiet && !this.json) console.error(text);
  }
}

/** Reads `server.info` if it exists. */
async function readServerFile(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(SERVER_FILE)).trim().split("\n")[0];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function baseName(path: string): string {
  return path.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? path;
}

/** Maps an error to its exit code and one line for stderr. */
function explain(error: unknown): { code: number; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || error instanceof InvalidNameError) {
    return { code: ExitCode.Usage, message: `${message} (see --help)` };
  }
  if (error instanceof FileNotFoundError || error instanceof ServerError) {
    return { code: ExitCode.Failure, message };
  }
  if (
    error instanceof ConnectionLostError || error instanceof ProtocolError ||
    error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.TimedOut ||
    isSocketFailure(error)
  ) {
    return { code: ExitCode.Connection, message: `connection problem: ${message}` };
  }
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
    return { code: ExitCode.Usage, message };
  }
  return { code: ExitCode.Failure, message };
}

/** Runs the client command line; resolves the exit code. */
export async function runClientCli(args: string[]): Promise<number> {
  let output = new Output(false, false);
  let client: BackupClient | undefined;
  try {
    const { values, positionals } = parseFlags(withoutLeadingDashDash(args), FLAGS, true);
    output = new Output(values.json ?? false, values.quiet ?? false);
    if (values.help) {
      console.log(HELP);
      return ExitCode.Ok;
    }
    if (values.version) {
      console.log(`backup-client ${denoConfig.version}`);
      return ExitCode.Ok;
    }
    const [command, ...operands] = positionals;
    if (!command) throw new UsageError("no command given: backup, restore, delete, list or run");
    if (!COMMANDS.includes(command as Command)) {
      throw new UsageError(`unknown command "${command}"`);
    }
    checkOperands(command as Command, operands, values);

    const serverText = values.server ?? await readServerFile() ?? DEFAULT_SERVER;
    const server = parseAddress(values.server ? "server" : SERVER_FILE, serverText);
    let userId: number;
    if (values.user !== undefined) {
      userId = parseInteger("user", values.user, 0, 0xffff_ffff);
    } else {
      const stored = await loadOrCreateUserId();
      userId = stored.userId;
      if (stored.created) output.note(`new user id ${userId}, kept in ${stored.path}`);
    }
    output.note(`user ${userId} at ${serverText}`);
    // The session's file list is read first: a missing one is a usage error, whatever the server.
    const sessionFiles = command === "run" ? await readBackupList() : [];
    client = await BackupClient.connect({ ...server, userId });

    switch (command as Command) {
      case "backup":
        await backupFiles(client, operands, values.as, output);
        break;
      case "restore":
        await restoreFile(client, operands[0], values.output, values.force ?? false, output);
        break;
      case "delete":
        await client.delete(operands[0]);
        output.result({ op: "delete", user: userId, name: operands[0] }, `deleted ${operands[0]}`);
        break;
      case "list": {
        const names = await client.list();
        if (output.json) output.result({ op: "list", user: userId, files: names }, "");
        else if (names.length > 0) console.log(names.join("\n"));
        else output.note(`no files stored for user ${userId}`);
        break;
      }
      case "run":
        return await runSession(client, sessionFiles, { json: output.json });
    }
    return ExitCode.Ok;
  } catch (error) {
    const { code, message } = explain(error);
    if (output.json) console.log(JSON.stringify({ ok: false, exitCode: code, error: message }));
    console.error(`backup-client: ${message}`);
    return code;
  } finally {
    client?.close();
  }
}

function checkOperands(
  command: Command,
  operands: string[],
  values: { as?: string; output?: string; force?: boolean },
): void {
  const wanted = { backup: "1+", restore: 1, delete: 1, list: 0, run: 0 }[command];
  if (wanted === "1+" ? operands.length === 0 : operands.length !== wanted) {
    throw new UsageError(
      wanted === 0
        ? `${command} takes no arguments, got "${operands[0]}"`
        : `${command} needs ${wanted === "1+" ? "at least one FILE" : "one NAME"}`,
    );
  }
  if (values.as !== undefined && (command !== "backup" || operands.length !== 1)) {
    throw new UsageError("--as goes with backup of exactly one FILE");
  }
  if ((values.output !== undefined || values.force) && command !== "restore") {
    throw new UsageError("-o and --force go with restore");
  }
}

async function backupFiles(
  client: BackupClient,
  files: string[],
  as: string | undefined,
  output: Output,
): Promise<void> {
  const names = files.map((file) => as ?? baseName(file));
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new UsageError(`two files would be stored as "${name}"`);
    seen.add(name);
  }
  for (const [i, file] of files.entries()) {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new UsageError(`${file} is not a file`);
    const progress = createProgress(names[i], output.quiet);
    try {
      await client.backupFile(names[i], file, { onProgress: progress.update });
    } finally {
      progress.finish();
    }
    output.result(
      { op: "backup", user: client.userId, file, name: names[i], size: info.size },
      `backed up ${file} as ${names[i]} (${formatBytes(info.size)})`,
    );
  }
}

async function restoreFile(
  client: BackupClient,
  name: string,
  outputPath: string | undefined,
  force: boolean,
  output: Output,
): Promise<void> {
  const path = outputPath ?? baseName(name);
  if (!force && await Deno.lstat(path).then(() => true, () => false)) {
    throw new UsageError(`${path} exists: pass --force to replace it, or -o another path`);
  }
  const progress = createProgress(name, output.quiet);
  let size;
  try {
    size = await client.retrieveToFile(name, path, { onProgress: progress.update });
  } finally {
    progress.finish();
  }
  output.result(
    { op: "restore", user: client.userId, name, path, size },
    `restored ${name} to ${path} (${formatBytes(size)})`,
  );
}
