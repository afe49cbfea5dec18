/**
 * The server's command line: runs the server (permissions checked, SIGHUP reloads, SIGINT/SIGTERM
 * stop it), or `export` / `verify`. It composes the store the flags choose, the accounts and the
 * server (`openServer`); closing the server closes the store after it.
 *
 * @module
 */
import denoConfig from "../deno.json" with { type: "json" };
import { createLogger } from "../server/log.ts";
import { openServer } from "./open_server.ts";
import { UsersFileError } from "../server/accounts.ts";
import { runExportCli } from "./server_export.ts";
import { runVerifyCli } from "./server_verify.ts";
import { ExitCode, oneLine, UsageError, withoutLeadingDashDash } from "./flags.ts";
import { DEFAULT_ROOT, PORT_FILE, SERVER_HELP } from "./server_help.ts";
import { parseServerArgs, type ServerConfig } from "./server_flags.ts";
import { S3_ENV, s3Credentials, storeHost } from "./s3_flags.ts";
import type { S3Backend } from "./open_store.ts";
import { SERVER_TAG_MAX } from "../storage/s3/keys.ts";
import { SERVER_V8_ARG } from "./server_v8_flags.ts";

export { DEFAULT_ROOT, PORT_FILE };
export { parseServerArgs, type ServerConfig };

/** The permission flags the server lacks for this config, as `--allow-…` flags to add. */
export async function missingPermissions(config: ServerConfig): Promise<string[]> {
  const missing: string[] = [];
  for (const [descriptor, flag] of wantedPermissions(config)) {
    if ((await Deno.permissions.query(descriptor)).state !== "granted") missing.push(flag);
  }
  return missing;
}

/** Every permission this config needs, with the `--allow-…` flag that grants it. */
function wantedPermissions(config: ServerConfig): Array<[Deno.PermissionDescriptor, string]> {
  const netHost = config.port === 0 ? config.hostname : `${config.hostname}:${config.port}`;
  const wanted: Array<[Deno.PermissionDescriptor, string]> = [
    [{ name: "net", host: netHost }, `--allow-net=${netHost}`],
  ];
  if (config.s3) {
    const host = storeHost(config.s3);
    wanted.push([{ name: "net", host }, `--allow-net=${host}`]);
    for (const variable of S3_ENV) {
      wanted.push([{ name: "env", variable }, `--allow-env=${variable}`]);
    }
  } else {
    wanted.push(
      [{ name: "read", path: config.root }, `--allow-read=${config.root}`],
      [{ name: "write", path: config.root }, `--allow-write=${config.root}`],
    );
  }
  for (const address of [config.plainListen, config.adminListen]) {
    if (!address) continue;
    const host = `${address.hostname}:${address.port}`;
    wanted.push([{ name: "net", host }, `--allow-net=${host}`]);
  }
  for (const path of [config.usersFile, config.tls?.certFile, config.tls?.keyFile]) {
    if (path !== undefined) wanted.push([{ name: "read", path }, `--allow-read=${path}`]);
  }
  return wanted;
}

/**
 * What to say when permissions are missing. Under `deno task serve` (the "server" permission set
 * of deno.json: ./backup-root and the files beside it) no `--allow-…` flag can be added, so say
 * what can be done: keep the files where the set allows, or the `deno run` line that grants them.
 */
function permissionAdvice(config: ServerConfig, missing: string[], args: string[]): string {
  const underTaskSet =
    Deno.permissions.querySync({ name: "read", path: DEFAULT_ROOT }).state === "granted" &&
    Deno.permissions.querySync({ name: "read", path: "/" }).state !== "granted";
  if (!underTaskSet) return `missing Deno permission: run with ${missing.join(" ")}`;
  const byKind = new Map<string, string[]>();
  for (const [, flag] of wantedPermissions(config)) {
    const [kind, value] = flag.split("=");
    const values = byKind.get(kind) ?? [];
    if (!values.includes(value)) values.push(value);
    byKind.set(kind, values);
  }
  const grants = [...byKind].map(([kind, values]) => `${kind}=${values.join(",")}`);
  // With S3 the files are not the matter: the store's host is, which only a `deno run` line grants.
  const keepUnderRoot = config.s3 ? "" : `keep --root under ${DEFAULT_ROOT}, or `;
  return `missing Deno permission (${missing.join(" ")}): deno task serve takes no --allow-… ` +
    `flags (its permissions are deno.json's "server" set: ${DEFAULT_ROOT}, and users.json, ` +
    `cert.pem, key.pem beside it); ${keepUnderRoot}run: deno run ${SERVER_V8_ARG} ` +
    `${grants.map(shellWord).join(" ")} server.ts ${args.map(shellWord).join(" ")}`;
}

/** `word` as a POSIX shell reads it back. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A file the config names that is not there: said as what it is, not as a failed `readfile`.
 * Resolves the message, or `undefined` if every file is there.
 */
async function missingFile(config: ServerConfig): Promise<string | undefined> {
  const files: Array<[string, string, string | undefined]> = [
    ["users file", "--users", config.usersFile],
    ["TLS certificate", "--tls-cert", config.tls?.certFile],
    ["TLS key", "--tls-key", config.tls?.keyFile],
  ];
  for (const [what, flag, path] of files) {
    if (path === undefined) continue;
    try {
      await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return `${what} ${path} not found (${flag})`;
      throw error;
    }
  }
  return undefined;
}

function readPortFile(): string | undefined {
  // Without permission to read it, port.info cannot be honoured: behave as if it were absent.
  const granted = Deno.permissions.querySync({ name: "read", path: PORT_FILE }).state === "granted";
  if (!granted) return undefined;
  try {
    return Deno.readTextFileSync(PORT_FILE);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Explains a startup failure in one line. */
function describeStartupError(error: unknown, config: ServerConfig): string {
  const address = `${config.hostname}:${config.port}`;
  if (error instanceof Deno.errors.AddrInUse) return `${address} is already in use`;
  if (error instanceof Deno.errors.AddrNotAvailable) return `cannot listen on ${address}`;
  if (error instanceof UsersFileError) {
    return `the users file ${config.usersFile}: ${error.message}`;
  }
  return oneLine(error);
}

/**
 * Runs the server command line: parses flags, checks permissions, serves until SIGINT or SIGTERM.
 * Resolves the exit code.
 */
export async function runServerCli(args: string[]): Promise<number> {
  const [subcommand, ...rest] = withoutLeadingDashDash(args);
  if (subcommand === "export") return await runExportCli(rest, DEFAULT_ROOT);
  if (subcommand === "verify") return await runVerifyCli(rest, DEFAULT_ROOT);
  const fail = (message: string, code: number) => {
    console.error(`backup-server: ${message}`);
    return code;
  };
  let config;
  try {
    config = parseServerArgs(withoutLeadingDashDash(args), {
      readPortFile,
      readConfigFile: (path) => Deno.readTextFileSync(path),
    });
  } catch (error) {
    if (error instanceof UsageError) return fail(`${error.message} (see --help)`, ExitCode.Usage);
    throw error;
  }
  if (config === "help") {
    console.log(SERVER_HELP);
    return ExitCode.Ok;
  }
  if (config === "version") {
    console.log(`backup-server ${denoConfig.version}`);
    return ExitCode.Ok;
  }
  const missing = await missingPermissions(config);
  if (missing.length > 0) {
    return fail(
      permissionAdvice(config, missing, withoutLeadingDashDash(args)),
      ExitCode.Failure,
    );
  }
  // A file named on the command line that is not there is a mistake in it, like a bad flag.
  const absent = await missingFile(config);
  if (absent) return fail(absent, ExitCode.Usage);
  const logger = createLogger({
    format: config.logFormat,
    quiet: config.quiet,
    blobRequests: config.logBlobRequests,
  });
  let s3: S3Backend | undefined;
  if (config.s3) {
    const { prefix, chunkFiles, ...where } = config.s3;
    try {
      const credentials = s3Credentials((name) => Deno.env.get(name));
      // Host and port name this server's data objects, so that its restart finds what it left; the
      // end of a long host name is kept, with the port (a data id must fit in a key: see keys.ts).
      const serverTag = `${config.hostname}_${config.port || crypto.randomUUID().slice(0, 8)}`
        .replace(/[^A-Za-z0-9_-]/g, "_").slice(-SERVER_TAG_MAX);
      s3 = { location: { ...where, credentials }, prefix, serverTag, chunkFiles };
    } catch (error) {
      if (error instanceof UsageError) return fail(error.message, ExitCode.Usage);
      throw error;
    }
  }
  let server;
  try {
    server = await openServer({
      root: config.root,
      hostname: config.hostname,
      port: config.port,
      limits: config.limits,
      closeAfterResponse: config.closeAfterResponse,
      statsIntervalMs: config.statsIntervalMs,
      retention: config.retention,
      readCacheBytes: config.readCacheBytes,
      hashWorkers: config.hashWorkers,
      blobGraceMs: config.blobGraceMs,
      access: {
        usersFile: config.usersFile,
        allowV1: config.allowV1,
        appendOnly: config.appendOnly,
      },
      tls: config.tls,
      plainListen: config.plainListen,
      plainAllowAccounts: config.plainAllowAccounts,
      s3,
      admin: config.adminListen,
      logger,
    });
  } catch (error) {
    return fail(describeStartupError(error, config), ExitCode.Failure);
  }
  let stopping = false;
  const stop = (signal: Deno.Signal) => () => {
    if (stopping) return; // a task runner may pass the same signal on twice
    stopping = true;
    logger.notice("shutting down", { signal, connections: server.connectionCount });
    server.close();
  };
  const reload = async () => {
    const report = await server.reload();
    for (const error of report.errors) {
      logger.error("reload failed; the old settings stay", { error });
    }
    logger.notice("reloaded", { accounts: report.accounts, certificate: report.certificate });
  };
  const signals: Array<[Deno.Signal, () => void]> = [["SIGINT", stop("SIGINT")]];
  if (Deno.build.os !== "windows") {
    signals.push(["SIGTERM", stop("SIGTERM")], ["SIGHUP", () => void reload()]);
  }
  // Listen for signals before announcing the address: whoever waits for that line may signal at once.
  for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);
  const { hostname, port } = server.addr;
  const plain = server.plainAddr;
  logger.notice("listening", {
    address: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
    tls: config.tls !== undefined,
    plainAddress: plain && `${plain.hostname}:${plain.port}`,
    adminAddress: server.adminAddr && `${server.adminAddr.hostname}:${server.adminAddr.port}`,
    accounts: config.usersFile === undefined ? undefined : server.accountCount,
    root: server.root,
    version: denoConfig.version,
    pid: Deno.pid,
  });
  await server.finished;
  for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
  logger.notice("stopped");
  return ExitCode.Ok;
}
