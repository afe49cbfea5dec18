import denoConfig from "../deno.json" with { type: "json" };
import { DEFAULT_LIMITS } from "../server/limits.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";
import { DEFAULT_KEEP_DAYS, DEFAULT_READ_CACHE_BYTES } from "../storage/embedded/options.ts";
import { SERVER_V8_ARG } from "./server_v8_flags.ts";

/** Default backup root, relative to the working directory. */
export const DEFAULT_ROOT = "./backup-root";
/** File in the working directory that names the port, as the original server reads it. */
export const PORT_FILE = "port.info";

/** The server's `--help`. */
export const SERVER_HELP =
  `backup-server ${denoConfig.version}: stores files per user id, speaking backup protocol v1 and v2.

Usage: backup-server [options]

Options:
  --root DIR               backup root, created if missing (default ${DEFAULT_ROOT})
  --host HOST              address to listen on (default ${DEFAULT_HOSTNAME})
  --port N                 port (default: the number in ./${PORT_FILE} if present, else ${DEFAULT_PORT})
  --max-file-size SIZE     largest file accepted, e.g. 100M or 2G (default 4G-1, the protocol's limit)
  --max-connections N      connections served at once; more are refused (default ${DEFAULT_LIMITS.maxConnections})
  --max-connections-per-address N
                           connections served at once from one IPv4 address or IPv6 /64; 0:
                           no cap (default ${DEFAULT_LIMITS.maxConnectionsPerAddress})
  --idle-timeout SECONDS   close a connection idle this long between requests (default ${
    DEFAULT_LIMITS.idleTimeoutMs / 1000
  })
  --frame-timeout SECONDS  close a connection whose request or payload stalls this long, or whose
                           TLS handshake takes longer; with --users, also one that has not signed
                           in (TLS, key) this long after connecting (default ${
    DEFAULT_LIMITS.frameTimeoutMs / 1000
  })
  --quota SIZE             bytes each user may store in all, e.g. 10G (default: no quota)
  --min-transfer-rate SIZE slowest upload, download or list accepted per second after the first
                           frame timeout, e.g. 1K; 0 turns it off (default ${DEFAULT_LIMITS.minTransferRate})
  --read-cache SIZE        memory for small files retrieved again and again, e.g. 64M; 0 turns it
                           off (default ${DEFAULT_READ_CACHE_BYTES / 2 ** 20}M)
  --hash-workers N         threads hashing version 1 and 2 uploads beside the event loop, 0-8: each
                           a V8 isolate's memory, faster large uploads on idle cores (default 0)
  --keep-days D            keep replaced and deleted versions D days; 0 keeps none (default ${DEFAULT_KEEP_DAYS})
  --keep-versions N        keep at most N past versions of each file; 0 keeps none (default: no limit)
  --blob-grace HOURS       keep what an interrupted snapshot backup sent this long, for its next run
                           (default 24)
  --stats-interval SECONDS log a "stats" line with totals this often (default: never)
  --config FILE            read settings from a JSON file ({"root": "/srv/backup", "quiet": true}: keys
                           are the flags' names); flags given here override it
  --users FILE             accounts (JSON: ids, ssh-ed25519 keys, appendOnly, quota); every request
                           must then come from a connection authenticated with protocol v2.
                           Re-read on SIGHUP
  --allow-v1               with --users: also serve unauthenticated v1 requests, for user ids that
                           are not accounts (legacy clients on a trusted network only)
  --append-only            everyone append-only: deletes refused, a replace keeps the old version
                           (kept --keep-days; --keep-versions does not apply; refused if days 0)
  --tls-cert FILE          PEM certificate (chain): the port speaks TLS; re-read on SIGHUP
  --tls-key FILE           its PEM private key
  --plain-listen HOST:PORT also listen on plain TCP there (beside a TLS port, for v1 clients);
                           version 2 sessions (keys, accounts) are refused there
  --plain-allow-accounts   with --plain-listen: serve version 2 sessions there too, in clear (their
                           files and requests can be read and changed on the way)
  --storage fs|s3          keep files under --root (fs, the default) or in an S3 bucket (s3); for
                           s3, credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
                           (and AWS_SESSION_TOKEN), never from flags
  --s3-endpoint URL        the object store, e.g. https://s3.eu-west-1.amazonaws.com
  --s3-bucket NAME         the bucket (created if missing)
  --s3-prefix PREFIX/      keys start with this, so that sites can share a bucket (default: none)
  --s3-region REGION       the region requests are signed for (default us-east-1)
  --s3-path-style          bucket in the path, not in the host name (MinIO, Swift, Ceph)
  --no-s3-chunk-files      store files over 256 KiB whole, not as chunks in packs deduplicated per
                           user (the default; packs no version names are garbage-collected)
  --admin-listen HOST:PORT serve GET /healthz (200 while storage answers and every port accepts,
                           else 503) and GET /metrics (Prometheus text) over plain HTTP there
                           (default: off)
  --close-after-response   close each connection after one response, as the original server does
  --log-format text|json   operator log format (default text), one line per request on stdout
                           (a snapshot connection's blob requests summed up: --log-blob-requests)
  --quiet                  log only start/stop, warnings and errors
  --log-blob-requests      a line for each version 3 blob request (Missing, PutBlob, GetBlob); by
                           default a connection's are summed up in one "blob requests" line
  --help                   show this help
  --version                show the version

Permissions (Deno): read and write of the root, net of the listen address, read of the users file
and the TLS files, e.g.
  deno run ${SERVER_V8_ARG} --allow-read=ROOT,users.json --allow-write=ROOT --allow-net=HOST:PORT \
    server.ts --root ROOT
Check the repository (packs, chunk lists, data files) and every stored file against its SHA-256
(read of ROOT; safe while the server runs; --structure-only reads no data, --read-data also every
chunk of every pack, --read-data-subset N% the chunks of a random N% of the packs):
  backup-server verify --root ROOT [--user ID] [--structure-only | --read-data |
    --read-data-subset N%] [--json]
Export a user's current files as a folder (read of ROOT, write of ROOT and DIR):
  backup-server export --root ROOT --user ID --to DIR
Stop with SIGINT or SIGTERM: requests in flight finish, then it exits 0. SIGHUP re-reads the users
file and the TLS certificate and key (a file that cannot be used keeps the old settings).
Exit codes: 0 stopped cleanly, 1 could not start, 2 bad command line or a file it names is missing.`;
