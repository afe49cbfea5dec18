import denoConfig from "../deno.json" with { type: "json" };
import { MAX_PAYLOAD_SIZE } from "../protocol/constants.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../server/limits.ts";
import { createLogger, type LogFormat } from "../server/log.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT, startServer } from "../server/server.ts";
import { DEFAULT_KEEP_DAYS, DEFAULT_READ_CACHE_BYTES } from "../storage/embedded/engine.ts";
import type { Retention } from "../storage/embedded/version_index.ts";
import { configFileArgs } from "./config_file.ts";
import { runExportCli } from "./server_export.ts";
import {
  ExitCode,
  parseByteSize,
  parseFlags,
  parseInteger,
  parseSeconds,
  UsageError,
  withoutLeadingDashDash,
} from "./usage_error.ts";

/** Default backup root, relative to the working directory. */
export const DEFAULT_ROOT = "./backup-root";
/** File in the working directory that names the port, as the original server reads it. */
export const PORT_FILE = "port.info";

/** Everything the server command line decides. */
export interface ServerConfig {
  root: string;
  hostname: string;
  port: number;
  limits: ServerLimits;
  closeAfterResponse: boolean;
  logFormat: LogFormat;
  quiet: boolean;
  /** Milliseconds between stats lines; 0: none. */
  statsIntervalMs: number;
  /** How long replaced and deleted versions are kept. */
  retention: Retention;
  /** Bytes of small files kept in memory for repeated retrieves; 0: none. */
  readCacheBytes: number;
}

const HELP =
  `backup-server ${denoConfig.version}: stores files per user id, speaking backup protocol v1.

Usage: backup-server [options]

Options:
  --root DIR               backup root, created if missing (default ${DEFAULT_ROOT})
  --host HOST              address to listen on (default ${DEFAULT_HOSTNAME})
  --port N                 port (default: the number in ./${PORT_FILE} if present, else ${DEFAULT_PORT})
  --max-file-size SIZE     largest file accepted, e.g. 100M or 2G (default 4G-1, the protocol's limit)
  --max-connections N      connections served at once; more are refused (default ${DEFAULT_LIMITS.maxConnections})
  --idle-timeout SECONDS   close a connection idle this long between requests (default ${
    DEFAULT_LIMITS.idleTimeoutMs / 1000
  })
  --frame-timeout SECONDS  close a connection whose request or payload stalls this long (default ${
    DEFAULT_LIMITS.frameTimeoutMs / 1000
  })
  --quota SIZE             bytes each user may store in all, e.g. 10G (default: no quota)
  --min-transfer-rate SIZE slowest upload or download accepted per second after the first
                           frame timeout, e.g. 1K; 0 turns it off (default ${DEFAULT_LIMITS.minTransferRate})
  --read-cache SIZE        memory for small files retrieved again and again, e.g. 64M; 0 turns it
                           off (default ${DEFAULT_READ_CACHE_BYTES / 2 ** 20}M)
  --keep-days D            keep replaced and deleted versions D days; 0 keeps none (default ${DEFAULT_KEEP_DAYS})
  --keep-versions N        keep at most N past versions of each file; 0 keeps none (default: no limit)
  --stats-interval SECONDS log a "stats" line with totals this often (default: never)
  --config FILE            read settings from a JSON file ({"root": "/srv/backup", "quiet": true}: keys
                           are the flags' names); flags given here override it
  --close-after-response   close each connection after one response, as the original server does
  --log-format text|json   operator log format (default text), one line per request on stdout
  --quiet                  log only start/stop, warnings and errors
  --help                   show this help
  --version                show the version

Permissions (Deno): read and write of the root, net of the listen address, e.g.
  deno run --allow-read=ROOT --allow-write=ROOT --allow-net=HOST:PORT server.ts --root ROOT
Export a user's current files as a folder (read of ROOT, write of ROOT and DIR):
  backup-server export --root ROOT --user ID --to DIR
Stop with SIGINT or SIGTERM: requests in flight finish, then it exits 0.
Exit codes: 0 stopped cleanly, 1 could not start, 2 bad command line.`;

/** Flags a config file may not set. */
const NOT_IN_CONFIG = new Set(["config", "help", "version", "sandbox-root"]);

const FLAGS = {
  root: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "max-file-size": { type: "string" },
  "max-connections": { type: "string" },
  "idle-timeout": { type: "string" },
  "frame-timeout": { type: "string" },
  quota: { type: "string" },
  "min-transfer-rate": { type: "string" },
  "close-after-response": { type: "boolean" },
  "log-format": { type: "string" },
  "sandbox-root": { type: "string" },
  "stats-interval": { type: "string" },
  "read-cache": { type: "string" },
  "keep-days": { type: "string" },
  "keep-versions": { type: "string" },
  config: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/**
 * Turns the command line into a config, or `"help"` / `"version"`.
 *
 * @param files reads `port.info` and the config file
 * @throws {UsageError} for unknown flags and bad values.
 */
export function parseServerArgs(
  args: string[],
  files: ServerFiles,
): ServerConfig | "help" | "version" {
  const fromFlags = parseFlags(args, FLAGS, true);
  const configPath = fromFlags.values.config;
  // Settings from the config file come first, so that flags given on the command line override them.
  const configArgs = configPath === undefined
    ? []
    : configFileArgs(configPath, files.readConfigFile, {
      flags: FLAGS,
      excluded: NOT_IN_CONFIG,
    });
  const { values, positionals } = parseFlags([...configArgs, ...args], FLAGS, true);
  if (values.help) return "help";
  if (values.version) return "version";
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const logFormat = values["log-format"] ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format must be text or json, got "${logFormat}"`);
  }
  let port = DEFAULT_PORT;
  if (values.port !== undefined) {
    port = parseInteger("port", values.port, 0, 65535);
  } else {
    const fromFile = files.readPortFile()?.trim();
    if (fromFile !== undefined) {
      if (!/^\d+$/.test(fromFile) || Number(fromFile) < 1 || Number(fromFile) > 65535) {
        throw new UsageError(
          `${PORT_FILE} must hold a port number from 1 to 65535, got "${fromFile}"`,
        );
      }
      port = Number(fromFile);
    }
  }
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  if (values["max-file-size"] !== undefined) {
    limits.maxFileSize = parseByteSize("max-file-size", values["max-file-size"], MAX_PAYLOAD_SIZE);
  }
  if (values["max-connections"] !== undefined) {
    limits.maxConnections = parseInteger("max-connections", values["max-connections"], 1, 1e6);
  }
  if (values["idle-timeout"] !== undefined) {
    limits.idleTimeoutMs = parseSeconds("idle-timeout", values["idle-timeout"]);
  }
  if (values["frame-timeout"] !== undefined) {
    limits.frameTimeoutMs = parseSeconds("frame-timeout", values["frame-timeout"]);
  }
  if (values.quota !== undefined) {
    limits.quotaBytes = parseByteSize("quota", values.quota, Number.MAX_SAFE_INTEGER);
  }
  if (values["min-transfer-rate"] !== undefined) {
    limits.minTransferRate = parseByteSize(
      "min-transfer-rate",
      values["min-transfer-rate"],
      Number.MAX_SAFE_INTEGER,
    );
  }
  // A standalone server is built with permissions for one root, passed as --sandbox-root.
  const sandboxRoot = values["sandbox-root"];
  if (sandboxRoot !== undefined && values.root !== undefined) {
    const trim = (path: string) => path.replace(/[\\/]+$/, "") || "/";
    if (trim(values.root) !== trim(sandboxRoot)) {
      throw new UsageError(
        `this executable may only use the root it was built for, ${sandboxRoot}; ` +
          `to serve ${values.root}, build one with: deno task compile --root ${values.root}`,
      );
    }
  }
  const statsIntervalMs = values["stats-interval"] === undefined
    ? 0
    : parseSeconds("stats-interval", values["stats-interval"]);
  const retention: Retention = {
    keepDays: values["keep-days"] === undefined
      ? DEFAULT_KEEP_DAYS
      : parseInteger("keep-days", values["keep-days"], 0, 1e6),
    keepVersions: values["keep-versions"] === undefined
      ? undefined
      : parseInteger("keep-versions", values["keep-versions"], 0, 1e9),
  };
  const readCacheBytes = values["read-cache"] === undefined
    ? DEFAULT_READ_CACHE_BYTES
    : parseByteSize("read-cache", values["read-cache"], Number.MAX_SAFE_INTEGER);
  return {
    statsIntervalMs,
    retention,
    readCacheBytes,
    root: values.root ?? sandboxRoot ?? DEFAULT_ROOT,
    hostname: values.host ?? DEFAULT_HOSTNAME,
    port,
    limits,
    closeAfterResponse: values["close-after-response"] ?? false,
    logFormat,
    quiet: values.quiet ?? false,
  };
}

/** How the command line reads its files (injected so that parsing stays testable). */
export interface ServerFiles {
  /** The contents of `port.info`, or undefined if there is none. */
  readPortFile(): string | undefined;
  /** The contents of a config file. @throws if it cannot be read */
  readConfigFile(path: string): string;
}

/** The permission flags the server lacks for this config, as `--allow-…` flags to add. */
export async function missingPermissions(config: ServerConfig): Promise<string[]> {
  const netHost = config.port === 0 ? config.hostname : `${config.hostname}:${config.port}`;
  const wanted: Array<[Deno.PermissionDescriptor, string]> = [
    [{ name: "read", path: config.root }, `--allow-read=${config.root}`],
    [{ name: "write", path: config.root }, `--allow-write=${config.root}`],
    [{ name: "net", host: netHost }, `--allow-net=${netHost}`],
  ];
  const missing: string[] = [];
  for (const [descriptor, flag] of wanted) {
    if ((await Deno.permissions.query(descriptor)).state !== "granted") missing.push(flag);
  }
  return missing;
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
  if (error instanceof Deno.errors.NotCapable) {
    return `missing Deno permission: ${error.message.split("\n")[0]}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the server command line: parses flags, checks permissions, serves until SIGINT or SIGTERM.
 * Resolves the exit code.
 */
export async function runServerCli(args: string[]): Promise<number> {
  if (withoutLeadingDashDash(args)[0] === "export") {
    return await runExportCli(withoutLeadingDashDash(args).slice(1), DEFAULT_ROOT);
  }
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
    console.log(HELP);
    return ExitCode.Ok;
  }
  if (config === "version") {
    console.log(`backup-server ${denoConfig.version}`);
    return ExitCode.Ok;
  }
  const missing = await missingPermissions(config);
  if (missing.length > 0) {
    return fail(`missing Deno permission: run with ${missing.join(" ")}`, ExitCode.Failure);
  }
  const logger = createLogger({ format: config.logFormat, quiet: config.quiet });
  let server;
  try {
    server = await startServer({
      root: config.root,
      hostname: config.hostname,
      port: config.port,
      limits: config.limits,
      closeAfterResponse: config.closeAfterResponse,
      statsIntervalMs: config.statsIntervalMs,
      retention: config.retention,
      readCacheBytes: config.readCacheBytes,
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
  const signals: Array<[Deno.Signal, () => void]> = [["SIGINT", stop("SIGINT")]];
  if (Deno.build.os !== "windows") signals.push(["SIGTERM", stop("SIGTERM")]);
  // Listen for signals before announcing the address: whoever waits for that line may signal at once.
  for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);
  const { hostname, port } = server.addr;
  logger.notice("listening", {
    address: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
    root: server.root,
    version: denoConfig.version,
    pid: Deno.pid,
  });
  await server.finished;
  for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
  logger.notice("stopped");
  return ExitCode.Ok;
}
