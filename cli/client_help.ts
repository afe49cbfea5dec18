import denoConfig from "../deno.json" with { type: "json" };
import { COMMON, SERVER_FILE } from "./client_help_common.ts";
import { SNAPSHOT_HELP } from "./client_help_snapshots.ts";

export { DEFAULT_SERVER, SERVER_FILE } from "./client_help_common.ts";

/** `--help` of each command, and of the program (key `""`). */
export const HELP: Record<string, string> = {
  "":
    `backup-client ${denoConfig.version}: backs up files to a backup-server (protocol v2 with a key, else v1).

Usage: backup-client COMMAND [options]    (backup-client COMMAND --help for more)
  backup PATH...                 with a key and a server that keeps snapshots: one snapshot of
                                 the paths (only what changed is sent); else file by file
  snapshots                      list snapshots (--host, --path, --tag, --json)
  ls SNAPSHOT [PATH] [-l]        list what a snapshot holds
  find PATTERN                   find entries by name in this host's snapshots
  diff SNAPSHOT1 SNAPSHOT2       what was added, removed or changed between two snapshots
  dump SNAPSHOT PATH             write a file of a snapshot, or a folder as tar, to standard output
  forget [SNAPSHOT...] --keep-* ... [--dry-run] [--prune]
                                 forget snapshots as restic's policy flags say (or those named)
  prune                          free the space no snapshot uses now (the quota shows it)
  restore SNAPSHOT[:PATH] --target DIR
                                 restore a snapshot (or a path in it) into DIR
  check [--read-data | --read-data-subset n/t|N%]
                                 check the snapshots' trees and blobs; name damaged files
  repair [--read-data-subset n/t|N%]
                                 check --read-data, then have the server drop the damaged
                                 chunks: the next backup of the named files sends them again
  backup PATH... --files [--as NAME]
                                 store files one by one, or folders with everything in them
  restore NAME [-o PATH]         fetch a file stored one by one, or every file under NAME/
  delete NAME                    remove a stored file, or every file under NAME/
  versions NAME                  list a file's stored versions, or each file's under NAME/ (v2)
  list [PREFIX]                  list stored files, one per line
  run                            the original client's session (server.info, backup.info)
  keygen [--key FILE] [--user ID]
                                 make a key; prints the line for the server's users file
  keygen --encryption            make the key --encrypt seals files with (keep a copy!)
  profile set NAME --server ... --user ID --ca FILE
                                 keep connection flags under a name (list, show, unset, remove)
  init [--password-file FILE | --repository-key-file FILE] [--kdf-cost LOG2N]
                                 make this account's snapshot repository encrypted (before its
                                 first snapshot): everything sealed here, the key never leaves
  key list|add|remove ID|passwd  the encrypted repository's key slots, as restic's key

A SNAPSHOT is named by its id, a unique prefix of at least 8 hex digits, or latest (this host's
newest; --host H for another's); snapshots are per host.

Examples:
  backup-client keygen --user 77
  backup-client --server backup.example.org:1234 --tls --user 77 backup ~/photos
  backup-client snapshots
  backup-client restore latest --target /tmp/photos-restored
  backup-client backup notes.txt photos/
  backup-client restore photos/ -o ./photos-restored
  backup-client list photos/ --server backup.example.org:1234

${COMMON}`,
  backup: `Usage: backup-client backup PATH... [--host H] [--tag T]... [--exclude GLOB]...
                             [--exclude-from FILE] [--one-file-system] [--exclude-caches]
                             [--exclude-if-present FILE]... [--time TIME] [--parent SNAPSHOT]
       backup-client backup --stdin [--stdin-filename NAME] [--host H] [--tag T]...
       backup-client backup PATH... --files [--as NAME] [--checksum] [--exclude GLOB]...
                             [--exclude-from FILE] [--delete] [--base DIR | --into NAME]
                             [--jobs N] [--dry-run] [--encrypt | --force]

With a key and a server that keeps snapshots (protocol v3), makes ONE snapshot of the paths, as
restic does: the absolute paths, with folders' and files' modes, owners, times and links. A file
whose size, times and inode are those of the parent snapshot (the newest of this host with the
same paths; --parent names another) is not read again; the rest is cut into chunks and only the
chunks the server lacks are sent. --host (default this machine's name) and --tag T (repeatable)
label it; --time sets its time. --exclude GLOB (and --exclude-from) leave out paths (see below);
--exclude-caches leaves out folders with a CACHEDIR.TAG, --exclude-if-present FILE folders holding
FILE, --one-file-system (-x) stays on each path's file system. --stdin stores standard input as one
file (--stdin-filename, default "stdin"). A progress line shows on a terminal (--json: one event
per line; --quiet: none). Paths that cannot be read are left out with an error line: the snapshot is
still made, exit 4. Ctrl-C: no snapshot is made, and what was already sent is not sent again.
A server without snapshots, no key, or a per-file flag (--files, --as, --into, --base, --delete,
--checksum, --encrypt, --encrypt-names, --dry-run, --force) backs up file by file (below).

File by file: stores each file under its base name; a folder is stored with every file in it, under the folder's own
name (also for .) and their paths inside it. --as gives the name for a single PATH (for a folder: the
name it is stored under). With a key (protocol v2) only what changed is sent: a file is unchanged when
the server has the same size and modification time (--checksum: the same SHA-256); modes and times are
stored. With a key, a symbolic link is stored as a link (its target as it is, never followed) and an
empty folder as a marker; protocol v1 skips both. Special files (devices, sockets, pipes) are
skipped. A file that cannot be read or stored is a warning and the backup goes on (exit 4 at the
end). The last line counts what happened (with --dry-run: what would happen).
--exclude GLOB (repeatable; --exclude-from FILE: one per line) leaves out matching paths: * and ?
within a name, ** across folders; a pattern without / matches any name, one with / the path below
the folder (a leading / anchors it). --delete (with a key) deletes from the server what is no
longer here (it stays a past version), never what was left out or failed. --jobs N (default 4)
sends over N connections at once. A folder name already holding another local folder's files is
refused (the client remembers where each came from) unless --into NAME; --base DIR stores folders
under their paths below DIR (--base ~ keeps ~/work/docs and ~/personal/docs apart).
Without --encrypt, a file the server holds sealed (backed up with --encrypt) is not replaced by a
plain copy: the backup stops (exit 2) unless --force says to replace sealed copies.

Examples:
  backup-client backup ~/work ~/photos --tag daily   one snapshot of both folders
  backup-client backup ~ --exclude-caches --exclude '*.iso'
  pg_dump db | backup-client backup --stdin --stdin-filename db.sql
  backup-client backup notes.txt photo.jpg --files  stored as notes.txt and photo.jpg
  backup-client backup ~/photos                   stored as photos/..., e.g. photos/2024/a.jpg
  backup-client backup build/report.pdf --as reports/2026-11.pdf
  backup-client backup ~/photos --dry-run         what would be sent

${COMMON}`,
  restore:
    `Usage: backup-client restore SNAPSHOT[:PATH] --target DIR [--include GLOB]... [--exclude GLOB]...
       backup-client restore NAME [-o PATH] [--force] [--version N | --at TIME] [--dry-run]
                              [--encrypt [--allow-unsealed-links]]

With --target: restores a snapshot (latest, an id, or a prefix of 8+ hex digits), or with :PATH a
folder or file in it, into DIR (made if missing), faithfully: contents, modes of files and folders,
times of files, folders and links, hard links, and owners when run as root. Existing files are
replaced, folders merged into; nothing is written outside DIR or through a link. --include and
--exclude (repeatable) take globs matched against paths in the snapshot (* ? [abc] within a name,
** across folders; a leading / anchors at the snapshot's root). Ctrl-C stops it without leaving a
half-written file.

Without --target: today's per-file restore of files stored one by one:
Fetches NAME into ./<its base name>, or PATH (- for standard output). A NAME ending in / (or one that is
only a folder on the server) restores every file under it into a folder (./<its base name>, or PATH),
keeping their paths, never writing outside it or through a symbolic link. Existing local files are
not replaced without --force. Each file is written under a temporary name and renamed into place once
complete (and, with a key, checked against its SHA-256, with its time and mode restored).
With a key: --version N restores that version (see versions); --at TIME restores the file or folder
as it was then ("2026-11-20 10:00" in local time, or ISO 8601).
Without --encrypt, a file that looks sealed is not written (exit 1); --force writes its stored bytes
as they are (a warning each: for a plain file that happens to start like a sealed one).
--allow-unsealed-links (with --encrypt) takes links and empty folders stored plain, as clients before
link and folder sealing stored them (a warning each; the server could have changed them); files
stored plain are still refused.

Examples:
  backup-client restore latest --target ./restored
  backup-client restore 1a2b3c4d:/home/u/photos --target ./photos --include '*.jpg'
  backup-client restore notes.txt
  backup-client restore reports/2026-11.pdf -o report.pdf --force
  backup-client restore photos/ -o ./photos-restored
  backup-client restore photos/ --at "2026-11-20 10:00" -o ./photos-then

${COMMON}`,
  delete: `Usage: backup-client delete NAME [--dry-run]

Removes the stored file NAME, or with NAME ending in / every file under it. On a server that keeps past
versions, what is deleted stays restorable (versions, restore --at) until they expire.

Examples:
  backup-client delete photos/2024/a.jpg
  backup-client delete photos/2019/ --dry-run

${COMMON}`,
  versions: `Usage: backup-client versions NAME

Lists the stored versions of NAME, oldest first: version number, when stored, size, modification time,
SHA-256, and whether it is current, replaced or deleted (protocol v2: needs a key). A NAME ending in /
(or one that is only a folder on the server) lists the versions of each file stored under it now,
one table per file (restore --at TIME finds files deleted since).

Examples:
  backup-client versions photos/cat.jpg
  backup-client versions photos/

${COMMON}`,
  list: `Usage: backup-client list [PREFIX]

Prints the stored names, one per line, in byte order; with PREFIX, only names that start with it.

Examples:
  backup-client list
  backup-client list photos/ --json

${COMMON}`,
  ...SNAPSHOT_HELP,
  profile: `Usage: backup-client profile list
       backup-client profile show [NAME]
       backup-client profile set NAME [--server HOST:PORT] [--user ID] [--key FILE] [--ca FILE]
                                      [--tls] [--timeout SECONDS] [--encryption-key FILE]
                                      [--repository-key-file FILE] [--password-file FILE]
       backup-client profile unset NAME SETTING...
       backup-client profile remove NAME

A profile keeps connection flags under a name, in profiles.json in the config folder
(~/.config/backup-client, readable by you only; written whole, never half). Every command takes
the flags it was not typed with from the profile --profile NAME names, else $BACKUP_PROFILE's,
else the profile "default" if there is one: a typed flag wins, then the profile, then the
built-in default. keygen records what it set up in the profile. set adds or replaces the settings
given (paths are kept absolute), unset removes settings (server, user, key, encryption-key,
repository-key-file, password-file, ca, tls, timeout), remove a whole profile. No passphrase is
kept in it, only the path of a file holding one (password-file; $BACKUP_PASSPHRASE and
$BACKUP_PASSWORD stay in the environment).
A file that is not valid JSON, an unknown setting, a value of the wrong kind, or a profile named
that is not in it: exit 2, and nothing runs.

Examples:
  backup-client profile set default --server backup.example.org:1234 --user 77 --ca cert.pem
  backup-client profile set work --server 10.0.0.5:1234 --user 12 --key ~/.config/backup-client/work
  backup-client --profile work snapshots
  BACKUP_PROFILE=work backup-client backup ~/work

${COMMON}`,
  run: `Usage: backup-client run

The original client's session: reads ./${SERVER_FILE} (HOST:PORT) and ./backup.info (one file per line),
then lists, backs up each file, lists, restores the first into a temporary file and compares it, deletes
it, and restores it again expecting "file does not exist" (1001), printing every step with its status.
Exit code 0 if every step answered as expected.

${COMMON}`,
};
