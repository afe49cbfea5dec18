import denoConfig from "../deno.json" with { type: "json" };
import { Output } from "./client_output.ts";
import { DEFAULT_SERVER, HELP, SERVER_FILE } from "./client_help.ts";
import type { FileClient } from "../client/file_client.ts";
import type { ClientPool } from "../client/client_pool.ts";
import { keyToUse, resolveUserId } from "./client_connect.ts";
import { applyProfile, selectProfile } from "./profiles.ts";
import type { HintContext } from "./client_failure.ts";
import { removePartialFiles } from "../client/partial_file.ts";
import {
  checkOperands,
  checkProgramVersion,
  type Command,
  COMMANDS,
  versionAsId,
} from "./client_args.ts";
import { runOnSnapshots } from "./snapshot_connect.ts";
import { FORGET_FLAGS } from "./forget_flags.ts";
import { CHECK_FLAGS } from "./check_flags.ts";
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

// Every command parses the same flags, but loads only its own modules when it runs (dynamic
// imports of literal specifiers, which `deno compile` still includes): start-up time is part of
// every backup's.

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
  strict: { type: "boolean" },
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
  // The per-file commands' connections, closed once the outcome is told.
  const opened: { client?: FileClient; pool?: ClientPool } = {};
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
    if (command === "keygen") {
      const { keygenCommand } = await import("./keygen_command.ts");
      return await keygenCommand(values, output);
    }
    if (command === "profile") {
      const { profileCommand } = await import("./profile_command.ts");
      return await profileCommand(operands, values, output);
    }
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
    const perFile = await import("./per_file_command.ts");
    return await perFile.runPerFileCommand(command as Command, operands, values, {
      server,
      serverText,
      userId,
      keyPath,
      output,
      recordBesideKey: user.recordBesideKey,
      versionId,
      atMs,
      opened,
    });
  } catch (error) {
    const { explain } = await import("./client_failure.ts");
    const { code, message } = explain(error, context);
    if (output.json) console.log(JSON.stringify({ ok: false, exitCode: code, error: message }));
    console.error(`backup-client: ${message}`);
    return code;
  } finally {
    Deno.removeSignalListener("SIGINT", interrupted);
    opened.pool?.close();
    opened.client?.close();
  }
}
