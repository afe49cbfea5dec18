import denoConfig from "../deno.json" with { type: "json" };
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";

/** File in the working directory naming the server as `HOST:PORT`, as the original client reads it. */
export const SERVER_FILE = "server.info";
/** The server used when neither `--server` nor `server.info` names one. */
export const DEFAULT_SERVER = `${DEFAULT_HOSTNAME}:${DEFAULT_PORT}`;

const COMMON = `Options for every command:
  --server HOST:PORT   the server (default: ./${SERVER_FILE} if present, else ${DEFAULT_SERVER})
  --user ID            user id 0..4294967295 (default: a random id made once and kept in
                       ~/.config/backup-client/user-id)
  --key FILE           the Ed25519 key to authenticate with (protocol v2); default: the one keygen
                       wrote (~/.config/backup-client/key) if it exists; without a key, v1
  --tls                speak TLS, verifying the server against the system's trusted roots
  --ca FILE            also trust this PEM certificate or CA (implies --tls)
  --v1                 speak protocol v1 even with a key (no authentication, no digests)
  --json               print results as JSON (one object per line) for scripts
  --quiet              no progress line and no notes on stderr

Exit codes: 0 ok, 1 the server refused (error status, refused key, integrity error),
2 usage or local file error, 3 cannot connect, TLS failed, or connection lost.`;

/** `--help` of each command, and of the program (key `""`). */
export const HELP: Record<string, string> = {
  "":
    `backup-client ${denoConfig.version}: backs up files to a backup-server (protocol v2 with a key, else v1).

Usage: backup-client COMMAND [options]    (backup-client COMMAND --help for more)
  backup PATH... [--as NAME]     store files, or folders with everything in them
  restore NAME [-o PATH]         fetch a file, or every file under NAME/ into a folder
  delete NAME                    remove a stored file
  list [PREFIX]                  list stored files, one per line
  run                            the original client's session (server.info, backup.info)
  keygen [--key FILE]            make a key; prints the line for the server's users file

Examples:
  backup-client keygen
  backup-client --server backup.example.org:1234 --tls --user 77 backup ~/photos
  backup-client backup notes.txt photos/
  backup-client restore photos/ -o ./photos-restored
  backup-client list photos/ --server backup.example.org:1234

${COMMON}`,
  backup: `Usage: backup-client backup PATH... [--as NAME]

Stores each file under its base name; a folder is stored with every file in it, under the folder's name
and their paths inside it (symbolic links are skipped). --as gives the name for a single PATH (for a
folder: the name it is stored under). Transfers over 1 MiB show progress on a terminal.

Examples:
  backup-client backup notes.txt photo.jpg        stored as notes.txt and photo.jpg
  backup-client backup ~/photos                   stored as photos/..., e.g. photos/2024/a.jpg
  backup-client backup build/report.pdf --as reports/2026-11.pdf

${COMMON}`,
  restore: `Usage: backup-client restore NAME [-o PATH] [--force]

Fetches NAME into ./<its base name>, or PATH. A NAME ending in / (or one that is only a folder on the
server) restores every file under it into a folder (./<its base name>, or PATH), keeping their paths.
Existing local files are not replaced without --force. Each file is written under a temporary name and
renamed into place once complete.

Examples:
  backup-client restore notes.txt
  backup-client restore reports/2026-11.pdf -o report.pdf --force
  backup-client restore photos/ -o ./photos-restored

${COMMON}`,
  delete: `Usage: backup-client delete NAME

Removes the stored file NAME.

Example:
  backup-client delete photos/2024/a.jpg

${COMMON}`,
  list: `Usage: backup-client list [PREFIX]

Prints the stored names, one per line, in byte order; with PREFIX, only names that start with it.

Examples:
  backup-client list
  backup-client list photos/ --json

${COMMON}`,
  keygen: `Usage: backup-client keygen [--key FILE]

Makes an Ed25519 key pair for protocol v2: the private key goes to FILE (default
~/.config/backup-client/key, readable by you only; an existing key is never overwritten), the public
key to FILE.pub and to standard output, as one "ssh-ed25519 ..." line for the server's users file.
With a key, every command authenticates with it; every upload carries its SHA-256, and every
restore is checked against the server's SHA-256 (a mismatch is "integrity error", exit 1).

${COMMON}`,
  run: `Usage: backup-client run

The original client's session: reads ./${SERVER_FILE} (HOST:PORT) and ./backup.info (one file per line),
then lists, backs up each file, lists, restores the first into a temporary file and compares it, deletes
it, and restores it again expecting "file does not exist" (1001), printing every step with its status.
Exit code 0 if every step answered as expected.

${COMMON}`,
};
