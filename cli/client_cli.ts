import denoConfig from "../deno.json" with { type: "json" };
import { backupPaths, list, Output, restore } from "./client_commands.ts";
import { DEFAULT_SERVER, HELP, SERVER_FILE } from "./client_help.ts";
import type { FileClient } from "../client/file_client.ts";
import { IntegrityError } from "../client/client_errors.ts";
import { KeyFileError } from "../client/keys.ts";
import { connectClient, keygen } from "./client_connect.ts";
import { loadOrCreateUserId } from "../client/user_id.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { FileNotFoundError, InvalidNameError, ProtocolError } from "../protocol/errors.ts";
import { ServerError } from "../client/client_errors.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import { readBackupList, runSession } from "./run_session.ts";
import {
  ExitCode,
  parseAddress,
  parseFlags,
  parseInteger,
  UsageError,
  withoutLeadingDashDash,
} from "./usage_error.ts";

const FLAGS = {
  server: { type: "string" },
  user: { type: "string" },
  as: { type: "string" },
  output: { type: "string", short: "o" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  key: { type: "string" },
  tls: { type: "boolean" },
  ca: { type: "string" },
  v1: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const COMMANDS = ["backup", "restore", "delete", "list", "run", "keygen"] as const;
type Command = typeof COMMANDS[number];

/** Reads `server.info` if it exists. */
async function readServerFile(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(SERVER_FILE)).trim().split("\n")[0];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Maps an error to its exit code and one line for stderr. */
function explain(error: unknown): { code: number; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || error instanceof InvalidNameError) {
    return { code: ExitCode.Usage, message: `${message} (see --help)` };
  }
  if (error instanceof KeyFileError) return { code: ExitCode.Usage, message };
  if (
    error instanceof FileNotFoundError || error instanceof ServerError ||
    error instanceof IntegrityError
  ) {
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
  let client: FileClient | undefined;
  try {
    const { values, positionals } = parseFlags(withoutLeadingDashDash(args), FLAGS, true);
    output = new Output(values.json ?? false, values.quiet ?? false);
    const [command, ...operands] = positionals;
    if (values.help) {
      console.log(HELP[COMMANDS.includes(command as Command) ? command : ""]);
      return ExitCode.Ok;
    }
    if (values.version) {
      console.log(`backup-client ${denoConfig.version}`);
      return ExitCode.Ok;
    }
    if (!command) throw new UsageError("no command given: backup, restore, delete, list or run");
    if (!COMMANDS.includes(command as Command)) {
      throw new UsageError(`unknown command "${command}"`);
    }
    checkOperands(command as Command, operands, values);
    if (command === "keygen") {
      const { path, line } = await keygen(values.key);
      output.note(
        `wrote the key to ${path} (and ${path}.pub); give this line to the server's operator:`,
      );
      output.result({ op: "keygen", path, publicKey: line }, line);
      return ExitCode.Ok;
    }

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
    client = await connectClient(values, server, userId, (text) => output.note(text));

    switch (command as Command) {
      case "backup":
        await backupPaths(client, operands, values.as, output);
        break;
      case "restore":
        await restore(client, operands[0], values.output, values.force ?? false, output);
        break;
      case "delete":
        await client.delete(operands[0]);
        output.result({ op: "delete", user: userId, name: operands[0] }, `deleted ${operands[0]}`);
        break;
      case "list":
        await list(client, operands[0], output);
        break;
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

/** Operands each command takes: at least, at most, and how to say it. */
const OPERANDS: Record<Command, [number, number, string]> = {
  backup: [1, Infinity, "at least one PATH"],
  restore: [1, 1, "one NAME"],
  delete: [1, 1, "one NAME"],
  list: [0, 1, "at most one PREFIX"],
  run: [0, 0, "nothing"],
  keygen: [0, 0, "nothing"],
};

function checkOperands(
  command: Command,
  operands: string[],
  values: { as?: string; output?: string; force?: boolean },
): void {
  const [least, most, what] = OPERANDS[command];
  if (operands.length < least || operands.length > most) {
    throw new UsageError(
      most === 0
        ? `${command} takes no arguments, got "${operands[0]}"`
        : operands.length > most
        ? `${command} takes ${what}, got also "${operands[most]}"`
        : `${command} needs ${what}`,
    );
  }
  if (values.as !== undefined && (command !== "backup" || operands.length !== 1)) {
    throw new UsageError("--as goes with backup of exactly one PATH");
  }
  if ((values.output !== undefined || values.force) && command !== "restore") {
    throw new UsageError("-o and --force go with restore");
  }
}
