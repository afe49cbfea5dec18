/**
 * A small S3 client over `node:http` (`http.ts`): the object, listing and multipart calls the S3
 * backend uses, signed with SigV4, retried when the store answers 5xx or the connection fails
 * (`s3_transport.ts`; every call here is idempotent: bodies are whole in memory).
 *
 * @module
 */
import { elements, text } from "./xml.ts";
import { errorFrom, S3Error } from "./s3_error.ts";
import {
  type RequestObserver,
  type RequestOptions,
  type S3Location,
  S3Transport,
} from "./s3_transport.ts";

export { S3Error } from "./s3_error.ts";
export type { RequestObserver, RequestOptions, S3Location } from "./s3_transport.ts";

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

/** A multipart upload not completed nor aborted. */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiatedMs: number;
}

/** The client; see the module comment. */
export class S3Client {
  readonly #transport: S3Transport;

  /** Builds a client for `location`; `observe` hears of each request's duration. */
  constructor(location: S3Location, observe: RequestObserver = () => {}) {
    this.#transport = new S3Transport(location, observe);
  }

  /** Creates the bucket unless it exists. */
  async ensureBucket(): Promise<void> {
    const head = await this.#transport.send("HeadBucket", "HEAD", "", {}, undefined, [200, 404]);
    if (head.status === 200) return;
    await this.#transport.send("CreateBucket", "PUT", "", {}, undefined, [200, 409]);
  }

  /** Whether the bucket answers (the health check). */
  async healthy(): Promise<boolean> {
    try {
      await this.#transport.send("HeadBucket", "HEAD", "", {}, undefined, [200]);
      return true;
    } catch {
      return false;
    }
  }

  /** Stores `body` as `key`, whole or not at all. */
  async put(key: string, body: Uint8Array, options: RequestOptions = {}): Promise<void> {
    await this.#transport.send("PutObject", "PUT", key, {}, body, [200], false, {}, options);
  }

  /**
   * Starts reading `key`; the caller consumes or cancels the body.
   *
   * @throws {S3Error} with status 404 if there is no such object.
   */
  get(key: string): Promise<Response> {
    return this.#transport.send("GetObject", "GET", key, {}, undefined, [200], true);
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
    return this.#transport.send("GetObject", "GET", key, {}, undefined, [200, 206, 416], true, {
      range: `bytes=${offset}-${last}`,
    });
  }

  /** The size of `key`, or `undefined` if there is no such object (a HEAD request). */
  async head(key: string): Promise<number | undefined> {
    const response = await this.#transport.send("HeadObject", "HEAD", key, {}, undefined, [
      200,
      404,
    ]);
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
    await this.#transport.send(
      "DeleteObject",
      "DELETE",
      key,
      {},
      undefined,
      gone,
      false,
      {},
      options,
    );
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
      const answer = await this.#transport.send("ListObjectsV2", "GET", "", query);
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
      const xml = await (await this.#transport.send("ListMultipartUploads", "GET", "", query))
        .text();
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
    const xml =
      await (await this.#transport.send("CreateMultipartUpload", "POST", key, { uploads: "" }))
        .text();
    const id = text(xml, "UploadId");
    if (!id) throw new S3Error(200, "", `no UploadId in the answer to a multipart start of ${key}`);
    return id;
  }

  /** Uploads part `partNumber` (from 1); resolves to its ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array) {
    const query = { partNumber: String(partNumber), uploadId };
    const response = await this.#transport.send("UploadPart", "PUT", key, query, body);
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
    const response = await this.#transport.send("CompleteMultipartUpload", "POST", key, {
      uploadId,
    }, body);
    // S3 may answer 200 with an error in the body once the work is done.
    const xml = await response.text();
    if (xml.includes("<Error>")) throw errorFrom(200, xml, `completing ${key}`);
  }

  /** Aborts a multipart upload: its parts are dropped (no error if it is gone already). */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.#transport.send("AbortMultipartUpload", "DELETE", key, { uploadId }, undefined, [
      200,
      204,
      404,
    ]);
  }
}

/** The store's `Date` header in ms since the epoch, NaN without one. */
function storeDateOf(answer: Response): number {
  return Date.parse(answer.headers.get("date") ?? "");
}

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}
