/**
 * `--help` of the snapshot commands (protocol v3) besides `backup` and `restore`: listing,
 * browsing, retention, checking and the repository's keys. `client_help.ts` joins them.
 *
 * @module
 */
import { COMMON } from "./client_help_common.ts";

/** `--help` of each snapshot command, by command. */
export const SNAPSHOT_HELP: Record<string, string> = {
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
};
