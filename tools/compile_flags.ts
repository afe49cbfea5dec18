/**
 * The exact `deno compile` arguments for the standalone executables: which permissions are baked in,
 * for which paths, and nothing broader; the server also gets its shipped V8 flags
 * (`cli/server_v8_flags.ts`). Pure: `tests/compile_flags_test.ts` checks it word for word.
 *
 * @module
 */
import { S3_ENV, storeHost } from "../cli/s3_flags.ts";
import { SERVER_V8_ARG } from "../cli/server_v8_flags.ts";
export { SERVER_V8_ARG, SERVER_V8_FLAGS } from "../cli/server_v8_flags.ts";

/** Targets `deno compile` supports, with the suffix their executables get. */
export const TARGETS: Readonly<Record<string, string>> = {
  "x86_64-unknown-linux-gnu": "linux-x64",
  "aarch64-unknown-linux-gnu": "linux-arm64",
  "x86_64-apple-darwin": "macos-x64",
  "aarch64-apple-darwin": "macos-arm64",
  "x86_64-pc-windows-msvc": "windows-x64",
};

/** Where the server binary stores files unless built for another root. */
export const DEFAULT_BUILD_ROOT = "/var/lib/backup-server";
/** Where the server binary may read its users file and TLS files unless built for another. */
export const DEFAULT_BUILD_ETC = "/etc/backup-server";
/** The files the server binary may read in its etc folder: accounts, certificate, key. */
export const ETC_FILES = ["users.json", "cert.pem", "key.pem"];
/** The address the server binary listens on unless built for another. */
export const DEFAULT_BUILD_LISTEN = "0.0.0.0:1234";

/**
 * Environment variables the client reads: where to keep its id and keys, NO_COLOR, the passphrase
 * of files sealed one by one, the repository's passphrase (its file, a new one), the profile to
 * use, and the user name a snapshot records.
 */
export const CLIENT_ENV = [
  "HOME",
  "XDG_CONFIG_HOME",
  "APPDATA",
  "NO_COLOR",
  "TMPDIR",
  "BACKUP_PASSPHRASE",
  "BACKUP_PASSWORD",
  "BACKUP_PASSWORD_FILE",
  "BACKUP_NEW_PASSWORD",
  "BACKUP_PROFILE",
  "USER",
];
/** Modules the client runs as workers (`new Worker` of a file: `deno compile` needs them named). */
export const CLIENT_WORKERS = ["client/snapshot/restore_file_worker.ts"];
/** What the client asks of the system: the host name and ids a snapshot records, as restic's. */
export const CLIENT_SYS = ["hostname", "uid", "gid"];

/** Options of `compileArgs`. */
export interface CompileOptions {
  /** `server` or `client`. */
  program: "server" | "client";
  /** A target of `TARGETS`, or undefined for the host. */
  target?: string;
  /** Folder the executables go to. */
  outDir: string;
  /** The server's root, baked in (absolute). */
  root?: string;
  /** The server's listen address `HOST:PORT`, baked in. */
  listen?: string;
  /** The folder of the server's users file and TLS files (absolute), readable by it. */
  etc?: string;
  /** Store in this bucket instead of a root: net to the endpoint and the AWS variables, no files. */
  s3?: { endpoint: string; bucket: string; pathStyle?: boolean };
  /** The admin port's `HOST:PORT` (`/healthz`, `/metrics`), baked in. */
  admin?: string;
}

/**
 * The arguments after `deno` for one executable.
 *
 * The server gets its V8 flags (`SERVER_V8_ARG`), read and write of its root, read of its users file and TLS files (in its etc
 * folder, used only when its command line names them), net of its listen address (and admin port),
 * and the same root and address as built-in arguments, with `--sandbox-root` so that it refuses any
 * other root at run time. Built for S3, it gets no root at all: net of the endpoint instead, and the
 * credentials' environment variables; the bucket is built in.
 * The client gets net, read and write (it backs up and restores whatever paths its user names), the
 * few environment variables it reads, and its worker modules included.
 *
 * @throws {Error} for an unknown target, a relative root, or a listen address without a port.
 */
export function compileArgs(options: CompileOptions): string[] {
  if (options.target !== undefined && !(options.target in TARGETS)) {
    throw new Error(`unknown target ${options.target}; known: ${Object.keys(TARGETS).join(", ")}`);
  }
  const suffix = options.target ? `-${TARGETS[options.target]}` : "";
  const exe = options.target?.includes("windows") ? ".exe" : "";
  const output = `${options.outDir}/backup-${options.program}${suffix}${exe}`;
  const common = ["compile", "--no-prompt", "--no-check", "--output", output];
  if (options.target) common.push("--target", options.target);
  if (options.program === "client") {
    return [
      ...common,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      `--allow-env=${CLIENT_ENV.join(",")}`,
      `--allow-sys=${CLIENT_SYS.join(",")}`,
      // Worker modules are not in an executable unless included (restore's small-file writer).
      ...CLIENT_WORKERS.flatMap((module) => ["--include", module]),
      "client.ts",
    ];
  }
  const root = options.root ?? DEFAULT_BUILD_ROOT;
  const etc = options.etc ?? DEFAULT_BUILD_ETC;
  for (const [what, path] of [["root", root], ["etc folder", etc]]) {
    if (!path.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(path)) {
      throw new Error(`the ${what} baked into the server must be absolute, got ${path}`);
    }
  }
  const listen = options.listen ?? DEFAULT_BUILD_LISTEN;
  const match = /^(.+):(\d+)$/.exec(listen);
  if (!match) throw new Error(`--listen must be HOST:PORT, got ${listen}`);
  const [, host, port] = match;
  const admin = options.admin === undefined ? [] : [options.admin];
  if (admin.some((address) => !/^.+:\d+$/.test(address))) {
    throw new Error(`--admin-listen must be HOST:PORT, got ${options.admin}`);
  }
  const etcFiles = ETC_FILES.map((file) => `${etc}/${file}`);
  common.push(SERVER_V8_ARG);
  if (options.s3) {
    const { endpoint, bucket, pathStyle } = options.s3;
    if (!bucket) throw new Error("--s3-endpoint goes with --s3-bucket");
    return [
      ...common,
      `--allow-read=${etcFiles.join(",")}`,
      `--allow-net=${[listen, ...admin, storeHost(options.s3)].join(",")}`,
      `--allow-env=${S3_ENV.join(",")}`,
      "server.ts",
      "--storage=s3",
      `--s3-endpoint=${new URL(endpoint).origin}`,
      `--s3-bucket=${bucket}`,
      ...(pathStyle ? ["--s3-path-style"] : []),
      `--host=${host}`,
      `--port=${port}`,
      ...admin.map((address) => `--admin-listen=${address}`),
    ];
  }
  return [
    ...common,
    `--allow-read=${[root, ...etcFiles].join(",")}`,
    `--allow-write=${root}`,
    `--allow-net=${[listen, ...admin].join(",")}`,
    "server.ts",
    `--sandbox-root=${root}`,
    `--host=${host}`,
    `--port=${port}`,
    ...admin.map((address) => `--admin-listen=${address}`),
  ];
}
