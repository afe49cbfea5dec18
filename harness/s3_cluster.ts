/**
 * Servers on one bucket as their own processes (sandboxed: net to loopback, the AWS variables, and
 * no file access but read of the users and TLS files given, if any), and HAProxy in front of them in
 * TCP mode with health checks on their admin ports.
 *
 * @module
 */
import { spawnListening } from "./spawn.ts";
import { testLocation } from "./s3_location.ts";

const SERVER_ENTRY = new URL("../server.ts", import.meta.url).pathname;

/** A port free now on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A server process on the test bucket. */
export interface S3ServerProcess {
  port: number;
  adminPort: number;
  pid: number;
  /** Everything it logged (JSON lines), so far. */
  readonly log: string[];
  /** Sends `signal`, then waits for the exit. */
  stop(signal?: Deno.Signal): Promise<void>;
}

/** Options of `startS3Server`. */
export interface S3ServerOptions {
  /** The main port (default a free one). */
  port?: number;
  /** The admin port (default a free one). */
  adminPort?: number;
  /** A users file (`--users`): accounts with keys, for protocol v3 and v2 sessions. */
  usersFile?: string;
  /** A certificate and its key (`--tls-cert`, `--tls-key`): the main port speaks TLS. */
  tls?: { certFile: string; keyFile: string };
  /** More flags of `server.ts`, after the ones above. */
  extraArgs?: string[];
}

/**
 * Starts `server.ts --storage s3` with keys under `prefix`, on the ports given or free ones. It may
 * read the users and TLS files given, and nothing else.
 */
export async function startS3Server(
  prefix: string,
  options: S3ServerOptions = {},
): Promise<S3ServerProcess> {
  const location = testLocation();
  // Exactly the files the flags name: a server on S3 has no root to read.
  const readable = [options.usersFile, options.tls?.certFile, options.tls?.keyFile]
    .filter((path): path is string => path !== undefined);
  const fileArgs = [
    ...(options.usersFile === undefined ? [] : ["--users", options.usersFile]),
    ...(options.tls === undefined
      ? []
      : ["--tls-cert", options.tls.certFile, "--tls-key", options.tls.keyFile]),
  ];
  const endpoint = new URL(location.endpoint);
  const port = options.port ?? freePort();
  const adminPort = options.adminPort ?? freePort();
  const log: string[] = [];
  const { child, output } = await spawnListening([
    "run",
    "--quiet",
    "--no-prompt",
    `--allow-net=127.0.0.1,${endpoint.host}`,
    "--allow-env=AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_SESSION_TOKEN",
    ...(readable.length === 0 ? [] : [`--allow-read=${readable.join(",")}`]),
    SERVER_ENTRY,
    "--storage",
    "s3",
    "--s3-endpoint",
    location.endpoint,
    "--s3-bucket",
    location.bucket,
    "--s3-prefix",
    prefix,
    "--s3-path-style",
    "--port",
    String(port),
    "--admin-listen",
    `127.0.0.1:${adminPort}`,
    "--log-format",
    "json",
    "--max-connections",
    "500",
    // Behind the balancer every connection comes from its address.
    "--max-connections-per-address",
    "0",
    ...fileArgs,
    ...(options.extraArgs ?? []),
  ], (printed) => {
    log.push(...printed.split("\n").filter((line) => line.startsWith("{")));
    return /"msg":"listening"/.test(printed) ? port : undefined;
  });
  const draining = (async () => {
    for (let next; !(next = await output.read()).done;) {
      log.push(...next.value.split("\n").filter((line) => line.startsWith("{")));
    }
  })();
  return {
    port,
    adminPort,
    pid: child.pid,
    log,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // gone already
      }
      await draining;
      await child.status;
    },
  };
}

/** HAProxy in front of servers. */
export interface Balancer {
  port: number;
  /** Its log: a line per connection (which server took it) and the servers' state changes. */
  readonly log: string[];
  stop(): Promise<void>;
}

/** Starts HAProxy (TCP mode, round robin, `/healthz` checked every 200 ms) in front of `servers`. */
export async function startHaproxy(
  servers: { port: number; adminPort: number }[],
): Promise<Balancer> {
  const dir = await Deno.makeTempDir({ prefix: "haproxy-" });
  const port = freePort();
  const config = [
    "global",
    "  maxconn 2000",
    "  log stderr format raw local0",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 2s",
    // Storage answers slowly on two busy cores: a slow check is not a dead server.
    "  timeout check 5s",
    "  timeout client 120s",
    "  timeout server 120s",
    "  retries 3",
    "  option redispatch",
    "frontend backup",
    `  bind 127.0.0.1:${port}`,
    "  default_backend servers",
    "backend servers",
    "  balance roundrobin",
    "  option httpchk GET /healthz",
    ...servers.map((server, i) =>
      `  server s${i} 127.0.0.1:${server.port} check port ${server.adminPort} inter 200 fall 2 rise 1`
    ),
  ].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, config);
  const child = new Deno.Command("haproxy", {
    args: ["-f", `${dir}/haproxy.cfg`, "-db"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const logging = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log.push(text);
  })();
  // Ready once every server is up in its checks: a connection through it gets answered.
  await waitFor(async () => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }, "HAProxy to listen");
  return {
    port,
    log,
    async stop() {
      child.kill("SIGTERM");
      await logging;
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Whether the balancer's checks last found server number `index` up (as it starts: yes). */
export function balancerSeesUp(balancer: Balancer, index: number): boolean {
  const states = balancer.log.join("").match(new RegExp(`servers/s${index} is (UP|DOWN)`, "g"));
  return !states || states.at(-1)!.endsWith("UP");
}

/** A server's `/metrics` page. */
export async function metricsOf(server: { adminPort: number }): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.adminPort}/metrics`);
  return await response.text();
}

/** The value of one sample of a metrics page (0 if absent). */
export function sample(metrics: string, series: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Polls `check` until it holds (each poll waits for its own I/O); fails after `limit` tries. */
export async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  limit = 2000,
): Promise<void> {
  for (let tries = 0; tries < limit; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}
