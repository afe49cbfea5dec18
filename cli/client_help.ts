import denoConfig from "../deno.json" with { type: "json" };
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";

/** File in the working directory naming the server as `HOST:PORT`, as the original client reads it. */
export const SERVER_FILE = "server.info";
/** The server used when neither `--server` nor `server.info` names one. */
export const DEFAULT_SERVER = `${DEFAULT_HOSTNAME}:${DEFAULT_PORT}`;

const COMMON = `Options for every command:
  --profile NAME       take the flags below that are not typed from this profile (default:
                       $BACKUP_PROFILE, else the profile "default" if there is one); see profile
  --server HOST:PORT   the server (default: ./${SERVER_FILE} if present, else ${DEFAULT_SERVER})
  --user ID            user id 0..4294967295. With a key: the id the server's operator registered
                       it for, needed once (then kept beside the key, as keygen --user ID does);
                       without a key: default a random id made once, kept in
                       ~/.config/backup-client/user-id
  --key FILE           the Ed25519 key to authenticate with (protocol v2); default: the one keygen
                       wrote (~/.config/backup-client/key) if it exists; without a key, v1
  --tls                speak TLS, verifying the server against the system's trusted roots (a key
                       used over plain TCP to another machine gets a warning)
  --ca FILE            also trust this PEM certificate or CA (implies --tls)
  --v1                 speak protocol v1 even with a key (no authentication, no digests)
  --encrypt            (backup, restore) seal files, link targets and empty folders' metadata on
                       this machine with the key of keygen --encryption, or one from
                       $BACKUP_PASSPHRASE; without it, sealed files are not restored (exit 1;
                       restore --force writes their stored bytes) and not replaced by plain
                       copies (exit 2; backup --force replaces them); see restore --help for
                       --allow-unsealed-links
  --encrypt-names      (backup, restore, list, delete, versions) seal names too, one path
                       component at a time, with the --encrypt key: the server sees no file or
                       folder name; give it with every command (see docs/encryption.md)
  --password-file FILE (snapshot commands) the passphrase of an encrypted repository (see init),
                       the file's text without its final newline; default $BACKUP_PASSWORD_FILE,
                       else $BACKUP_PASSWORD, else asked on a terminal. Given for a repository
                       that is not encrypted: refused (exit 2), never a silent plain backup
  --repository-key-file FILE
                       (snapshot commands) the key file of an encrypted repository instead (see
                       init --repository-key-file); both may be kept in a profile
  --strict             (snapshot commands) a snapshot this client made or saw last, missing from
                       the server's list (lost, rolled back, or forgotten elsewhere), is an error
                       (exit 1) rather than a warning, on every --strict run until a run without
                       it has taken the server's list as it is
  --timeout SECONDS    give up on a server silent this long (default 60, and 3600 for prune and
                       forget --prune, whose answer waits for the whole collection; 0: forever)
  --json               print results as JSON (one object per line) for scripts
  --quiet              no progress line and no notes on stderr

Exit codes: 0 ok, 1 the server refused (error status, refused key, integrity error; a passphrase
or key file that opens no key slot),
2 usage or local file error, 3 cannot connect, TLS failed, connection lost, or the server broke
the protocol, 4 done, but some files could not be backed up or restored (see the warnings),
130 interrupted (Ctrl-C).`;

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
  snapshots: `Usage: backup-client snapshots [--host H] [--path P]... [--tag T]... [--json]

Lists the account's snapshots, oldest first: short id, time, host, tags, paths and size. --host
shows one host's, --path those that include P (absolute), --tag T those tagged T (T1,T2: both;
repeat --tag for either). --json prints one array (restic's field names).

${COMMON}`,
  ls: `Usage: backup-client ls SNAPSHOT [PATH] [-l] [--json]

Lists everything in a snapshot (or below PATH in it), one path per line; -l adds mode, owner,
group, size and modification time. SNAPSHOT is latest (this host's, or --host H's), an id or a
prefix of 8+ hex digits; SNAPSHOT:PATH works too.

${COMMON}`,
  find: `Usage: backup-client find PATTERN [--host H] [--path P] [--tag T] [--json]

Finds entries whose name matches PATTERN (* ? [abc]; with a /, the path from the snapshot's root,
** across folders) in this host's snapshots (or --host H's), newest first, printed as ls -l does.

Examples:
  backup-client find '*.pdf'
  backup-client find '/home/u/**/notes.txt'

${COMMON}`,
  diff: `Usage: backup-client diff SNAPSHOT1 SNAPSHOT2

Prints what changed from SNAPSHOT1 to SNAPSHOT2: + added, - removed, M content changed, T type
changed, U metadata only; then counts on stderr. Folders with the same content are skipped without
being read. SNAPSHOT:PATH compares folders inside them.

${COMMON}`,
  dump: `Usage: backup-client dump SNAPSHOT PATH

Writes the file at PATH in SNAPSHOT to standard output (its chunks checked against their ids and
its size against the snapshot's). A folder (or / for the whole snapshot) is written as a tar
archive, as restic's dump writes one: POSIX pax, paths without the leading /, modes, times, owners
and links as stored, a hard link's every name as a whole file.

Examples:
  backup-client dump latest /home/u/notes.txt > notes.txt
  backup-client dump latest /home/u/work | tar -x -C /tmp/work-back

${COMMON}`,
  forget: `Usage: backup-client forget [--keep-last N] [--keep-hourly N] [--keep-daily N]
                             [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]
                             [--keep-within D] [--keep-within-hourly|daily|weekly|monthly|yearly D]
                             [--keep-tag T[,T...]]... [--group-by host,paths,tags]
                             [--host H] [--tag T]... [--path P]... [--dry-run] [--prune]
                             [--json]
       backup-client forget SNAPSHOT... [--dry-run] [--prune]

Forgets snapshots as restic's forget does (version 0.14's rules, checked against restic itself).
The snapshots --host, --tag and --path let through are grouped by host and paths (--group-by: any
of host, paths, tags; '' for one group), and in each group, newest first, a snapshot is kept if it
is one of the last N (--keep-last), the newest of one of the last N hours, days, ISO weeks, months
or years that have one (--keep-hourly ... --keep-yearly), within D of the group's newest snapshot
(--keep-within 1y5m7d2h: years, months, days, hours), the newest of its hour/day/week/month/year
within D (--keep-within-daily D ...), or tagged with every tag of a --keep-tag list ('' keeps
untagged ones). Hours, days, weeks, months and years are this machine's local time (TZ). Prints
what is kept, why, and what is removed (--json: restic's groups); then forgets the removed ones,
unless --dry-run. A policy is needed (restic 0.16 on refuses an empty one too); SNAPSHOT... names
snapshots to forget instead (latest, an id, or a prefix of 8+ hex digits). An append-only account
cannot forget: refused, nothing forgotten. The chunks only forgotten snapshots used are freed by
the server's garbage collection; --prune runs it at once (as the prune command) and prints what
the account's usage dropped by ("freed N bytes").

Examples:
  backup-client forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
  backup-client forget --keep-within 30d --keep-tag keep --host laptop
  backup-client forget 1a2b3c4d

${COMMON}`,
  prune: `Usage: backup-client prune [--json]

Asks the server to collect this account's garbage now, as restic's prune: the chunks and trees no
snapshot references any more go, and the packs that held them are removed or repacked. Prints what
the account's usage (its quota) dropped by: "freed N bytes (...), M packs removed". Chunks of a
backup still running and chunks younger than the server's grace period (--blob-grace, 24 h by
default) stay until a later prune. Refused for an append-only account; on S3, refused while
another server is collecting the bucket's garbage (try again later).

Examples:
  backup-client forget --keep-daily 7 --prune
  backup-client prune

${COMMON}`,
  repair: `Usage: backup-client repair [--read-data-subset n/t|N%] [--host H] [--tag T] [--path P]
                             [--json]

Runs check --read-data (or the subset given), prints each file that needs a damaged or missing
chunk, then tells the server of the bad chunks: it reads each again and drops those whose bytes
really do not match their id (good chunks stay). The next backup of the named files sends them
again (the server reports them missing) and the repository is whole: check --read-data exits 0.
Refused for an append-only account.

Examples:
  backup-client repair && backup-client backup ~/work && backup-client check --read-data

${COMMON}`,
  check: `Usage: backup-client check [--read-data | --read-data-subset n/t|N%] [--host H] [--tag T]
                            [--path P] [--json]

Checks the snapshots (all, or those --host, --tag and --path let through) as restic's check does:
reads every tree once, each checked against its id, and asks the server about every chunk they
name. --read-data also fetches every chunk once and checks it against its id (SHA-256);
--read-data-subset n/t only the n-th of t parts of the chunks (by id: 1/t ... t/t together read
them all), N% a random N% of them. Each file (or folder) that needs a missing or damaged chunk is
printed with its snapshot, then a summary (--json: one line per path, then the summary).
Exit code 0 if nothing is wrong, 1 if check found errors.

Examples:
  backup-client check
  backup-client check --read-data
  backup-client check --read-data-subset 1/5

${COMMON}`,
  keygen: `Usage: backup-client keygen [--key FILE] [--user ID] [--server HOST:PORT] [--ca FILE]
                             [--tls] [--timeout SECONDS] [--profile NAME]

Makes an Ed25519 key pair for protocol v2: the private key goes to FILE (default
~/.config/backup-client/key, readable by you only; an existing key is never overwritten), the public
key to FILE.pub and to standard output, as one "ssh-ed25519 ..." line for the server's users file.
--user ID records the account's id beside the key (FILE.user-id) so that commands need no --user;
without it, the first command that logs in with --user ID records it.
The key's path, and --user, --server, --ca, --tls and --timeout if given, are recorded in the
profile (--profile NAME, $BACKUP_PROFILE, else "default"; keygen --encryption records its key's
path), so that later commands need none of them.
With a key, every command authenticates with it; every upload carries its SHA-256, and every
restore is checked against the server's SHA-256 (a mismatch is "integrity error", exit 1).

${COMMON}`,
  init: `Usage: backup-client init [--password-file FILE | --repository-key-file FILE]
                           [--kdf-cost LOG2N] [--json]

Makes this account's snapshot repository encrypted, as restic init does: a master key made here is
wrapped in a first key slot that only the passphrase or key file opens, and the server keeps the
slot without being able to open it. From then on every blob, tree and snapshot record is sealed
(ChaCha20-Poly1305) before it is sent, blob ids are keyed, and every snapshot command needs the
secret (--password-file FILE, $BACKUP_PASSWORD_FILE, $BACKUP_PASSWORD, --repository-key-file FILE,
or typed on a terminal): none, exit 2; a wrong one, exit 1. Run it before the account's first
snapshot: the server refuses it while plain snapshots exist (forget them and prune first, or use
another account); a second init is refused too.
The new secret: --repository-key-file FILE (a key file: made if FILE does not exist, readable by
you only; else the one there is used), --password-file FILE, $BACKUP_PASSWORD_FILE,
$BACKUP_PASSWORD, or typed twice on a terminal (not echoed). --kdf-cost LOG2N (10..20, default 17)
sets a passphrase slot's scrypt cost N = 2^LOG2N (r 8, p 1: 128 MiB and about half a second at 17).
Keep the passphrase or key file safe: without one, nothing stored can be restored, and the server
cannot help. See docs/encryption.md (what the server still learns).

Examples:
  backup-client init
  backup-client init --repository-key-file ~/.config/backup-client/repo.key
  BACKUP_PASSWORD_FILE=~/.backup-pw backup-client backup ~/work

${COMMON}`,
  key: `Usage: backup-client key list [--json]
       backup-client key add [--new-password-file FILE | --new-repository-key-file FILE]
                             [--kdf-cost LOG2N]
       backup-client key passwd [--new-password-file FILE | --new-repository-key-file FILE]
                                [--kdf-cost LOG2N]
       backup-client key remove ID [--force]

Manages the key slots of an encrypted repository (see init), as restic key does; each command
first opens the repository with the current secret (--password-file, --repository-key-file,
$BACKUP_PASSWORD_FILE, $BACKUP_PASSWORD, or typed). list prints each slot's id, kind (passphrase
or key-file), when, on which host and by which user it was made (kept in clear: the server sees
them), * marking the slot this command opened with. add wraps the same master key in a new slot
for a new secret: --new-repository-key-file FILE (made if missing), --new-password-file FILE,
$BACKUP_NEW_PASSWORD, or typed twice; --kdf-cost LOG2N (10..20, default 17) its scrypt cost.
passwd adds a slot for the new secret, then removes the one in use: the old secret opens nothing
then. remove ID (8..32 hex digits of its id) removes another slot; the one in use only with
--force; the server never removes the last one. At most 16 slots; an append-only account cannot
remove any.

Examples:
  backup-client key list
  backup-client key add --new-password-file ~/.backup-pw2
  backup-client key passwd
  backup-client key remove 1a2b3c4d

${COMMON}`,
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
