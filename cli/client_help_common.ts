/**
 * What every command's `--help` ends with: the options every command takes and the exit codes;
 * and the server a command talks to when none is named.
 *
 * @module
 */
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";

/** File in the working directory naming the server as `HOST:PORT`, as the original client reads it. */
export const SERVER_FILE = "server.info";
/** The server used when neither `--server` nor `server.info` names one. */
export const DEFAULT_SERVER = `${DEFAULT_HOSTNAME}:${DEFAULT_PORT}`;

/** The options every command takes, at the end of each command's help. */
export const COMMON = `Options for every command:
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
  --strict             (snapshot commands that read the server's list: backup, snapshots,
                       forget, and those naming a snapshot) a snapshot this client made or saw
                       last, missing from the list (lost, rolled back, or forgotten elsewhere), is
                       an error (exit 1) rather than a warning, on every --strict run until a run
                       without it has taken the server's list as it is
  --timeout SECONDS    give up on a server silent this long (default 60, and 3600 for prune and
                       forget --prune, whose answer waits for the whole collection; 0: forever)
  --json               print results as JSON (one object per line) for scripts
  --quiet              no progress line and no notes on stderr

Exit codes: 0 ok, 1 the server refused (error status, refused key, integrity error; a passphrase
or key file that opens no key slot),
2 usage or local file error, 3 cannot connect, TLS failed, connection lost, or the server broke
the protocol, 4 done, but some files could not be backed up or restored (see the warnings),
130 interrupted (Ctrl-C).`;
