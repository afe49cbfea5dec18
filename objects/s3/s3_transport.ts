/**
 * How the S3 client (`s3_client.ts`) sends a request: signed with SigV4 (payload unsigned), sent
 * over `http.ts`, and tried again (3 attempts in all, backing off from 100 ms) when the connection
 * fails or the store answers 5xx, every attempt told to the observer. An answer not streamed is
 * read to its end before it is returned, so that the connection is free for the next request; an
 * answer whose status is not expected becomes an `S3Error`.
 *
 * @module
 */
import { amzDate, type Credentials, signRequest, uriEncode } from "./sigv4.ts";
import { httpRequest } from "./http.ts";
import { errorFrom, S3Error } from "./s3_error.ts";

/** Where and as whom. */
export interface S3Location {
  /** `https://host[:port]`. */
  endpoint: string;
  /** The bucket, created at start if missing. */
  bucket: string;
  /** The region requests are signed for. @default "us-east-1" */
  region?: string;
  /** Bucket in the path (`endpoint/bucket/key`), not in the host name. */
  pathStyle?: boolean;
  /** Who signs the requests. */
  credentials: Credentials;
}

/** Options of one request. */
export interface RequestOptions {
  /**
   * Sign every attempt with this time (ms since the epoch), not the attempt's own: the store then
   * refuses the request if it lands more than its allowed skew (900 s on S3 and Swift) after this
   * time, however late a retry is sent. @default each attempt's `Date.now()`
   */
  signedAt?: number;
}

/** Told of every request: for the latency histogram. */
export type RequestObserver = (call: string, seconds: number, ok: boolean) => void;

const ATTEMPTS = 3;
/** Answers a `Response` may not carry a body with, even an empty one. */
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
const RETRY_BASE_MS = 100;

/** Signs, sends and retries the client's requests; see the module comment. */
export class S3Transport {
  readonly #base: URL;
  readonly #keyPrefix: string;
  readonly #region: string;
  readonly #credentials: Credentials;
  readonly #observe: RequestObserver;

  /** Sends to `location`'s bucket; `observe` hears of each request's duration. */
  constructor(location: S3Location, observe: RequestObserver = () => {}) {
    const endpoint = new URL(location.endpoint);
    if (location.pathStyle) {
      this.#base = endpoint;
      this.#keyPrefix = `/${uriEncode(location.bucket, false)}/`;
    } else {
      this.#base = new URL(`${endpoint.protocol}//${location.bucket}.${endpoint.host}`);
      this.#keyPrefix = "/";
    }
    this.#region = location.region ?? "us-east-1";
    this.#credentials = location.credentials;
    this.#observe = observe;
  }

  /**
   * Sends one request for `call` (the S3 operation's name) to `key` (`""`: the bucket) with `query`
   * and `body`; resolves to the answer once its status is one of `expected` (its body read to its
   * end, unless `stream`).
   *
   * @throws {S3Error} once the attempts are spent, or at once on an unexpected status below 500.
   */
  async send(
    call: string,
    method: string,
    key: string,
    query: Record<string, string>,
    body?: Uint8Array,
    expected: number[] = [200],
    stream = false,
    extraHeaders: Record<string, string> = {},
    options: RequestOptions = {},
  ): Promise<Response> {
    const url = new URL(this.#keyPrefix + uriEncode(key, true), this.#base);
    if (key === "") url.pathname = this.#keyPrefix.replace(/\/$/, "") || "/";
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    for (let attempt = 1;; attempt++) {
      const started = performance.now();
      let response: Response;
      try {
        const headers = signRequest({
          method,
          url,
          headers: {
            host: url.host,
            ...extraHeaders,
            ...(body ? { "content-length": String(body.length) } : {}),
          },
          payloadHash: "UNSIGNED-PAYLOAD",
          region: this.#region,
          amzDate: amzDate(options.signedAt ?? Date.now()),
        }, this.#credentials);
        response = await httpRequest(url, method, {
          ...extraHeaders,
          ...headers,
          host: url.host,
          "content-length": String(body?.length ?? 0),
        }, body);
      } catch (error) {
        this.#observe(call, (performance.now() - started) / 1000, false);
        if (attempt < ATTEMPTS) {
          await backoff(attempt);
          continue;
        }
        throw new S3Error(0, "", `${call} ${key}: ${(error as Error).message}`, { cause: error });
      }
      if (expected.includes(response.status)) {
        if (stream) {
          this.#observe(call, (performance.now() - started) / 1000, true);
          return response;
        }
        // Read to its end, however short: only then is the connection free for the next request.
        const text = await response.text();
        const whole = new Response(NULL_BODY_STATUS.has(response.status) ? null : text, response);
        this.#observe(call, (performance.now() - started) / 1000, true);
        return whole;
      }
      const xml = await response.text();
      this.#observe(call, (performance.now() - started) / 1000, false);
      if (response.status >= 500 && attempt < ATTEMPTS) {
        await backoff(attempt);
        continue;
      }
      throw errorFrom(response.status, xml, `${call} ${key || "(bucket)"}`);
    }
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 2 ** (attempt - 1)));
}
