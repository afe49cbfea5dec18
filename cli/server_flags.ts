/**
 * The server's command line turned into a config: flags, the config file, `port.info`.
 *
 * @module
 */
import { MAX_PAYLOAD_SIZE } from "../protocol/constants.ts";
import { DEFAULT_LIMITS, MIN_TIMEOUT_MS, type ServerLimits } from "../server/limits.ts";
import type { LogFormat } from "../server/log.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";
import { DEFAULT_KEEP_DAYS, DEFAULT_READ_CACHE_BYTES } from "../storage/embedded/options.ts";
import type { Retention } from "../storage/retention.ts";
import { configFileArgs } from "./config_file.ts";
import {
  parseAddress,
  parseByteSize,
  parseFlags,
  parseInteger,
  parseSeconds,
  UsageError,
} from "./flags.ts";
import { DEFAULT_ROOT, PORT_FILE } from "./server_help.ts";
import { parseS3Flags, S3_FLAGS, type S3Config } from "./s3_flags.ts";

/** Everything the server command line decides. */
export interface ServerConfig {
  root: string;
  hostname: string;
  port: number;
  limits: ServerLimits;
  closeAfterResponse: boolean;
  logFormat: LogFormat;
  quiet: boolean;
  /** Each version 3 blob request logged on its own line (`Logger.blobRequests`). */
  logBlobRequests: boolean;
  /** Milliseconds between stats lines; 0: none. */
  statsIntervalMs: number;
  /** How long replaced and deleted versions are kept. */
  retention: Retention;
  /** Bytes of small files kept in memory for repeated retrieves; 0: none. */
  readCacheBytes: number;
  /** Workers hashing a large upload's chunks; 0: on the event loop. */
  hashWorkers: number;
  /** How long blobs of an interrupted snapshot run are kept for the next run (ms). */
  blobGraceMs?: number;
  /** The users file, re-read on SIGHUP. */
  usersFile?: string;
  allowV1: boolean;
  appendOnly: boolean;
  /** PEM files: the port speaks TLS. */
  tls?: { certFile: string; keyFile: string };
  /** A second, plain TCP address. */
  plainListen?: { hostname: string; port: number };
  /** Serve version 2 sessions (accounts' keys) on the plain address too, in clear. */
  plainAllowAccounts: boolean;
  /** Files in an S3 bucket instead of under the root. */
  s3?: S3Config;
  /** The admin port (`/healthz`, `/metrics`). */
  adminListen?: { hostname: string; port: number };
}

/** Flags a config file may not set. */
const NOT_IN_CONFIG = new Set(["config", "help", "version", "sandbox-root"]);

const FLAGS = {
  root: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "max-file-size": { type: "string" },
  "max-connections": { type: "string" },
  "max-connections-per-address": { type: "string" },
  "idle-timeout": { type: "string" },
  "frame-timeout": { type: "string" },
  quota: { type: "string" },
  "min-transfer-rate": { type: "string" },
  "close-after-response": { type: "boolean" },
  "log-format": { type: "string" },
  "sandbox-root": { type: "string" },
  "stats-interval": { type: "string" },
  "read-cache": { type: "string" },
  "hash-workers": { type: "string" },
  "keep-days": { type: "string" },
  "blob-grace": { type: "string" },
  "keep-versions": { type: "string" },
  users: { type: "string" },
  "allow-v1": { type: "boolean" },
  "append-only": { type: "boolean" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "plain-listen": { type: "string" },
  "plain-allow-accounts": { type: "boolean" },
  "admin-listen": { type: "string" },
  ...S3_FLAGS,
  config: { type: "string" },
  quiet: { type: "boolean" },
  "log-blob-requests": { type: "boolean" },
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
  for (const [flag, key, parse] of LIMIT_FLAGS) {
    const text = values[flag];
    if (text !== undefined) limits[key] = parse(flag, text);
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
  const optional = <T>(flag: keyof typeof values, parse: (text: string) => T, fallback: T) => {
    const text = values[flag];
    return typeof text === "string" ? parse(text) : fallback;
  };
  const statsIntervalMs = optional("stats-interval", (t) => parseSeconds("stats-interval", t), 0);
  const retention: Retention = {
    keepDays: optional("keep-days", (t) => parseInteger("keep-days", t, 0, 1e6), DEFAULT_KEEP_DAYS),
    keepVersions: optional(
      "keep-versions",
      (t): number | undefined => parseInteger("keep-versions", t, 0, 1e9),
      undefined,
    ),
  };
  const blobGraceMs = optional(
    "blob-grace",
    (t): number | undefined => parseInteger("blob-grace", t, 1, 1e6) * 3_600_000,
    undefined,
  );
  const readCacheBytes = optional(
    "read-cache",
    (t) => parseByteSize("read-cache", t, Number.MAX_SAFE_INTEGER),
    DEFAULT_READ_CACHE_BYTES,
  );
  const hashWorkers = optional("hash-workers", (t) => parseInteger("hash-workers", t, 0, 8), 0);
  const certFile = values["tls-cert"];
  const keyFile = values["tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (values["allow-v1"] && values.users === undefined) {
    throw new UsageError("--allow-v1 goes with --users (without accounts, v1 is always served)");
  }
  const plainListen = values["plain-listen"] === undefined
    ? undefined
    : parseAddress("plain-listen", values["plain-listen"]);
  if (plainListen && certFile === undefined) {
    throw new UsageError("--plain-listen goes with --tls-cert: the main port is plain already");
  }
  if (values["plain-allow-accounts"] && !plainListen) {
    throw new UsageError("--plain-allow-accounts goes with --plain-listen");
  }
  const adminListen = values["admin-listen"] === undefined
    ? undefined
    : parseAddress("admin-listen", values["admin-listen"]);
  return {
    s3: parseS3Flags(values),
    adminListen,
    usersFile: values.users,
    allowV1: values["allow-v1"] ?? false,
    appendOnly: values["append-only"] ?? false,
    tls: certFile === undefined ? undefined : { certFile, keyFile: keyFile! },
    plainListen,
    plainAllowAccounts: values["plain-allow-accounts"] ?? false,
    statsIntervalMs,
    retention,
    readCacheBytes,
    hashWorkers,
    blobGraceMs,
    root: values.root ?? sandboxRoot ?? DEFAULT_ROOT,
    hostname: values.host ?? DEFAULT_HOSTNAME,
    port,
    limits,
    closeAfterResponse: values["close-after-response"] ?? false,
    logFormat,
    quiet: values.quiet ?? false,
    logBlobRequests: values["log-blob-requests"] ?? false,
  };
}

/** The flags that set a limit: flag, the limit, how its value is read. */
const LIMIT_FLAGS: Array<
  [
    | "max-file-size"
    | "max-connections"
    | "max-connections-per-address"
    | "idle-timeout"
    | "frame-timeout"
    | "quota"
    | "min-transfer-rate",
    keyof ServerLimits,
    (flag: string, text: string) => number,
  ]
> = [
  ["max-file-size", "maxFileSize", (flag, text) => parseByteSize(flag, text, MAX_PAYLOAD_SIZE)],
  ["max-connections", "maxConnections", (flag, text) => parseInteger(flag, text, 1, 1e6)],
  [
    "max-connections-per-address",
    "maxConnectionsPerAddress",
    (flag, text) => parseInteger(flag, text, 0, 1e6),
  ],
  ["idle-timeout", "idleTimeoutMs", (flag, text) => parseTimeout(flag, text)],
  ["frame-timeout", "frameTimeoutMs", (flag, text) => parseTimeout(flag, text)],
  ["quota", "quotaBytes", (flag, text) => parseByteSize(flag, text, Number.MAX_SAFE_INTEGER)],
  [
    "min-transfer-rate",
    "minTransferRate",
    (flag, text) => parseByteSize(flag, text, Number.MAX_SAFE_INTEGER),
  ],
];

/** A timeout: 0 turns it off; otherwise it must be at least the watchdog's resolution. */
function parseTimeout(flag: string, text: string): number {
  const ms = parseSeconds(flag, text);
  if (Number(text) > 0 && ms < MIN_TIMEOUT_MS) {
    throw new UsageError(
      `--${flag} must be 0 (off) or at least ${MIN_TIMEOUT_MS / 1000} s, the timer's resolution; ` +
        `got "${text}"`,
    );
  }
  return ms;
}

/** How the command line reads its files (injected so that parsing stays testable). */
export interface ServerFiles {
  /** The contents of `port.info`, or undefined if there is none. */
  readPortFile(): string | undefined;
  /** The contents of a config file. @throws if it cannot be read */
  readConfigFile(path: string): string;
}
