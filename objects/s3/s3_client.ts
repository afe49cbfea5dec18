/**
 * A small S3 client over `node:http` (`http.ts`): the object, listing and multipart calls the S3 backend uses, signed
 * with SigV4, retried when the store answers 5xx or the connection fails (every call here is
 * idempotent: bodies are whole in memory).
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { amzDate, type Credentials, signRequest, uriEncode } from "./sigv4.ts";
import { elements, text, unescapeXml } from "./xml.ts";
import { httpRequest } from "./http.ts";

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

/** An object as a listing shows it. */
export interface ListedObject {
  key: string;
  size: number;
  lastModifiedMs: number;
}

/**
 * A page of a listing, with the store's clock when it answered: its `Date` header in ms since the
 * epoch (whole seconds: the store's time was at least this, and less than a second more; NaN if
 * the answer had none).
 */
export type ListedPage = ListedObject[] & { dateMs: number };

/** Options of one request. */
export interface RequestOptions {
  /**
   * Sign every attempt with this time (ms since the epoch), not the attempt's own: the store then
   * refuses the request if it lands more than its allowed skew (900 s on S3 and Swift) after this
   * time, however late a retry is sent. @default each attempt's `Date.now()`
   */
  signedAt?: number;
}

/** A multipart upload not completed nor aborted. */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiatedMs: number;
}

/** An answer of the object store that is an error (or no answer at all). */
export class S3Error extends BackupError {
  /**
   * Builds the error.
   * @param status the HTTP status, 0 when there was no answer
   * @param code S3's error code (`NoSuchKey`, …) if it gave one
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Told of every request: for the latency histogram. */
export type RequestObserver = (call: string, seconds: number, ok: boolean) => void;

const ATTEMPTS = 3;
/** Answers a `Response` may not carry a body with, even an empty one. */
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
const RETRY_BASE_MS = 100;

/** The client; see the module comment. */
export class S3Client {
  readonly #base: URL;
  readonly #keyPrefix: string;
  readonly #region: string;
  readonly #credentials: Credentials;
  readonly #observe: RequestObserver;

  /** Builds a client for `location`; `observe` hears of each request's duration. */
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

  /** Creates the bucket unless it exists. */
  async ensureBucket(): Promise<void> {
    const head = await this.#send("HeadBucket", "HEAD", "", {}, undefined, [200, 404]);
    if (head.status === 200) return;
    await this.#send("CreateBucket", "PUT", "", {}, undefined, [200, 409]);
  }

  /** Whether the bucket answers (the health check). */
  async healthy(): Promise<boolean> {
    try {
      await this.#send("HeadBucket", "HEAD", "", {}, undefined, [200]);
      return true;
    } catch {
      return false;
    }
  }

  /** Stores `body` as `key`, whole or not at all. */
  async put(key: string, body: Uint8Array, options: RequestOptions = {}): Promise<void> {
    await this.#send("PutObject", "PUT", key, {}, body, [200], false, {}, options);
  }

  /**
   * Starts reading `key`; the caller consumes or cancels the body.
   *
   * @throws {S3Error} with status 404 if there is no such object.
   */
  get(key: string): Promise<Response> {
    return this.#send("GetObject", "GET", key, {}, undefined, [200], true);
  }

  /**
   * Starts reading `length` bytes (at least 1) of `key` from `offset` (a `Range` request); the
   * caller consumes or cancels the body. The answer is 206 with the bytes of the range that exist,
   * 416 (no body to read) if the range starts at or past the end, or 200 with the whole object if
   * the store ignored the range.
   *
   * @throws {S3Error} with status 404 if there is no such object.
   */
  getRange(key: string, offset: number, length: number): Promise<Response> {
    const last = Math.min(offset + length - 1, Number.MAX_SAFE_INTEGER);
    return this.#send("GetObject", "GET", key, {}, undefined, [200, 206, 416], true, {
      range: `bytes=${offset}-${last}`,
    });
  }

  /** The size of `key`, or `undefined` if there is no such object (a HEAD request). */
  async head(key: string): Promise<number | undefined> {
    const response = await this.#send("HeadObject", "HEAD", key, {}, undefined, [200, 404]);
    if (response.status === 404) return undefined;
    const size = Number(response.headers.get("content-length"));
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new S3Error(200, "", `HeadObject ${key}: no valid Content-Length in the answer`);
    }
    return size;
  }

  /** Deletes `key` (no error if it is gone already). */
  async delete(key: string, options: RequestOptions = {}): Promise<void> {
    const gone = [200, 204, 404];
    await this.#send("DeleteObject", "DELETE", key, {}, undefined, gone, false, {}, options);
  }

  /**
   * The objects whose keys start with `prefix`, a page (up to 1,000) at a time, in key order; with
   * `first`, only the first that many.
   */
  async *list(prefix: string, first?: number): AsyncGenerator<ListedPage> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (token) query["continuation-token"] = token;
      if (first !== undefined) query["max-keys"] = String(first);
      const answer = await this.#send("ListObjectsV2", "GET", "", query);
      const xml = await answer.text();
      const objects = elements(xml, "Contents").map((entry) => ({
        key: text(entry, "Key")!,
        size: Number(text(entry, "Size")),
        lastModifiedMs: Date.parse(text(entry, "LastModified") ?? ""),
      }));
      yield Object.assign(objects, { dateMs: storeDateOf(answer) });
      token = text(xml, "IsTruncated") === "true" ? text(xml, "NextContinuationToken") : undefined;
    } while (token && first === undefined);
  }

  /** Multipart uploads under `prefix` that were neither completed nor aborted. */
  async *pendingUploads(prefix: string): AsyncGenerator<PendingUpload> {
    let marker: Record<string, string> = {};
    for (;;) {
      const query = { uploads: "", prefix, ...marker };
      const xml = await (await this.#send("ListMultipartUploads", "GET", "", query)).text();
      for (const upload of elements(xml, "Upload")) {
        yield {
          key: text(upload, "Key")!,
          uploadId: text(upload, "UploadId")!,
          initiatedMs: Date.parse(text(upload, "Initiated") ?? ""),
        };
      }
      if (text(xml, "IsTruncated") !== "true") return;
      marker = {
        "key-marker": text(xml, "NextKeyMarker") ?? "",
        "upload-id-marker": text(xml, "NextUploadIdMarker") ?? "",
      };
    }
  }

  /** Starts a multipart upload of `key`; resolves to its id. */
  async startMultipart(key: string): Promise<string> {
    const xml = await (await this.#send("CreateMultipartUpload", "POST", key, { uploads: "" }))
      .text();
    const id = text(xml, "UploadId");
    if (!id) throw new S3Error(200, "", `no UploadId in the answer to a multipart start of ${key}`);
    return id;
  }

  /** Uploads part `partNumber` (from 1); resolves to its ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array) {
    const query = { partNumber: String(partNumber), uploadId };
    const response = await this.#send("UploadPart", "PUT", key, query, body);
    const etag = response.headers.get("etag");
    if (!etag) throw new S3Error(200, "", `no ETag for part ${partNumber} of ${key}`);
    return etag;
  }

  /** Completes a multipart upload: the object appears, whole. */
  async completeMultipart(key: string, uploadId: string, etags: string[]): Promise<void> {
    const parts = etags.map((etag, i) =>
      `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`
    );
    const body = new TextEncoder().encode(
      `<CompleteMultipartUpload>${parts.join("")}</CompleteMultipartUpload>`,
    );
    const response = await this.#send("CompleteMultipartUpload", "POST", key, { uploadId }, body);
    // S3 may answer 200 with an error in the body once the work is done.
    const xml = await response.text();
    if (xml.includes("<Error>")) throw errorFrom(200, xml, `completing ${key}`);
  }

  /** Aborts a multipart upload: its parts are dropped (no error if it is gone already). */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.#send("AbortMultipartUpload", "DELETE", key, { uploadId }, undefined, [
      200,
      204,
      404,
    ]);
  }

  async #send(
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

/** The store's `Date` header in ms since the epoch, NaN without one. */
function storeDateOf(answer: Response): number {
  return Date.parse(answer.headers.get("date") ?? "");
}

function errorFrom(status: number, xml: string, what: string): S3Error {
  const code = text(xml, "Code") ?? "";
  const message = text(xml, "Message") ?? unescapeXml(xml.slice(0, 200));
  return new S3Error(status, code, `${what}: ${status} ${code} ${message}`.trim());
}

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 2 ** (attempt - 1)));
}
