/**
 * HTTP requests to the object store over `node:http`/`node:https` with keep-alive, answered as a web
 * `Response` whose body streams: `fetch` held far more of the process's memory for the same
 * multipart upload (docs/performance.md, eighth round).
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

/** How long a request may go without a byte either way. */
export const IDLE_TIMEOUT_MS = 60_000;

const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

/** Sends a request; resolves once the answer's head is in (its body streams). */
export function httpRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<Response> {
  const secure = url.protocol === "https:";
  const send = secure ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      { method, headers, agent: agents[secure ? "https:" : "http:"] },
      (answer) => {
        const head = new Headers();
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined) head.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const status = answer.statusCode ?? 0;
        const bodyless = method === "HEAD" || status === 204 || status === 304;
        if (bodyless) answer.resume();
        resolve(
          new Response(bodyless ? null : Readable.toWeb(answer) as ReadableStream<Uint8Array>, {
            status,
            headers: head,
          }),
        );
      },
    );
    request.on("error", reject);
    // A store that stops answering fails the request (and it is retried) instead of holding it.
    request.setTimeout(IDLE_TIMEOUT_MS, () => {
      request.destroy(new Error(`no answer from the store in ${IDLE_TIMEOUT_MS / 1000} s`));
    });
    request.end(body);
  });
}
