/**
 * An HTTP proxy between a server process and the test bucket that can hold one request for good:
 * the kill tests (`snapshot_kill_test.ts`) stop a snapshot's commit at the PUT of one of its
 * objects, then SIGKILL the server there. A request is held either before it is forwarded (the
 * object never reaches the store) or after the store answered it (the object is stored, the server
 * never hears so). Requests are forwarded with their headers as signed (the `Host` included, so
 * SigV4 holds), bodies and answers whole. Every call answered is recorded, by key below the prefix.
 *
 * @module
 */
import http from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";

/** Where a request is held: before it is forwarded, or once the store answered it. */
export type HoldAt = "request" | "answer";

/** A call the proxy relayed (or held at its answer). */
export interface ProxiedCall {
  method: string;
  /** The object key below the prefix ("" for a bucket listing). */
  key: string;
  status: number;
}

interface Rule {
  match: (method: string, key: string) => boolean;
  at: HoldAt;
  held: (call: ProxiedCall) => void;
}

/** See the module comment. */
export class HoldProxy implements AsyncDisposable {
  /** Calls relayed so far, in the order they were answered. */
  readonly calls: ProxiedCall[] = [];
  readonly #server: http.Server;
  readonly #agent = new http.Agent({ keepAlive: true });
  readonly #sockets = new Set<Socket>();
  readonly #upstream: URL;
  readonly #pathPrefix: string;
  #rule: Rule | undefined;
  #port = 0;
  #wake: () => void = () => {};
  #changed = new Promise<void>((resolve) => this.#wake = resolve);

  private constructor(upstream: string, bucket: string, prefix: string) {
    this.#upstream = new URL(upstream);
    this.#pathPrefix = `/${bucket}/${prefix}`;
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  /** Listens on a free port of 127.0.0.1, forwarding to `upstream` (path-style `bucket/prefix`). */
  static async start(upstream: string, bucket: string, prefix: string): Promise<HoldProxy> {
    const proxy = new HoldProxy(upstream, bucket, prefix);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    proxy.#port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  /** The endpoint to give a server instead of the store's. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /**
   * Holds the next request `match` accepts, at `at`, for good (its connection dies with the
   * server). Resolves once it is held.
   */
  hold(match: (method: string, key: string) => boolean, at: HoldAt): Promise<ProxiedCall> {
    if (this.#rule) throw new Error("a hold is already set");
    return new Promise((held) => this.#rule = { match, at, held });
  }

  /** Resolves the first call from `from` on that `match` accepts, once it was relayed. */
  async waitForCall(
    match: (call: ProxiedCall) => boolean,
    from = 0,
  ): Promise<ProxiedCall> {
    for (let i = from;;) {
      for (; i < this.calls.length; i++) if (match(this.calls[i])) return this.calls[i];
      await this.#changed;
    }
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body: Buffer[] = [];
    for await (const part of req) body.push(part as Buffer);
    const method = req.method ?? "GET";
    const path = (req.url ?? "").split("?")[0];
    const key = path.startsWith(this.#pathPrefix)
      ? decodeURIComponent(path.slice(this.#pathPrefix.length))
      : "";
    const rule = this.#rule?.match(method, key) ? this.#rule : undefined;
    if (rule) this.#rule = undefined;
    if (rule?.at === "request") return rule.held({ method, key, status: 0 });
    const answer = await this.#forward(req, Buffer.concat(body));
    const call = { method, key, status: answer.status };
    if (rule) return rule.held(call);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
    this.calls.push(call);
    const wake = this.#wake;
    this.#changed = new Promise<void>((resolve) => this.#wake = resolve);
    wake();
  }

  #forward(
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = http.request({
        host: this.#upstream.hostname,
        port: this.#upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      }, (answer) => {
        const parts: Buffer[] = [];
        answer.on("data", (part: Buffer) => parts.push(part));
        answer.on("error", reject);
        answer.on("end", () =>
          resolve({
            status: answer.statusCode ?? 502,
            headers: answer.headers,
            body: Buffer.concat(parts),
          }));
      });
      upstream.on("error", reject);
      upstream.end(body);
    });
  }

  /** Stops listening and drops every connection, held ones included. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }
}
