/**
 * The admin port (`--admin-listen`): `GET /healthz` (200 while storage answers and every listener
 * accepts, 503 otherwise, for balancers) and `GET /metrics` (Prometheus text). Plain HTTP: bind it
 * to a private address.
 *
 * @module
 */

/** What the admin port asks of the server. */
export interface AdminSources {
  /** Whether storage answers. */
  healthy(): Promise<boolean>;
  /** Why listeners do not accept (stopped, or accepts failing): empty while all do. */
  listenersDown(): string[];
  metrics(): string;
}

/** A running admin port. */
export interface AdminListener {
  readonly addr: Deno.NetAddr;
  close(): Promise<void>;
}

/** Serves the admin port on `hostname:port` (0: a free one). */
export function serveAdmin(
  address: { hostname: string; port: number },
  sources: AdminSources,
): AdminListener {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
  }, async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    if (pathname === "/healthz") {
      const down = sources.listenersDown();
      if (down.length > 0) {
        return new Response(down.map((reason) => `listener ${reason}\n`).join(""), {
          status: 503,
        });
      }
      const ok = await sources.healthy().catch(() => false);
      return new Response(ok ? "ok\n" : "storage unavailable\n", { status: ok ? 200 : 503 });
    }
    if (pathname === "/metrics") {
      return new Response(sources.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response("not found\n", { status: 404 });
  });
  return { addr: server.addr, close: () => server.shutdown() };
}
