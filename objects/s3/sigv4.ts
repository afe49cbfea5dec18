/**
 * AWS Signature Version 4 for S3 requests (header form, `UNSIGNED-PAYLOAD` or a payload's SHA-256):
 * pure computation, no I/O.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";

/** Credentials as the usual environment variables give them. */
export interface Credentials {
  /** `AWS_ACCESS_KEY_ID`. */
  accessKeyId: string;
  /** `AWS_SECRET_ACCESS_KEY`. */
  secretAccessKey: string;
  /** `AWS_SESSION_TOKEN`, for temporary credentials. */
  sessionToken?: string;
}

/** A request to sign. */
export interface SigningInput {
  method: string;
  url: URL;
  /** Headers to sign besides the ones added here (lower-case names). */
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
  region: string;
  /** When, as `YYYYMMDDTHHMMSSZ`. */
  amzDate: string;
}

/** The SHA-256 of nothing, for bodiless requests. */
export const EMPTY_PAYLOAD_HASH =
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Formats a time as SigV4 wants it. */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Percent-encodes as SigV4 wants: everything but `A-Za-z0-9-._~` (and `/` when a path). */
export function uriEncode(text: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? encoded.replace(/%2F/g, "/") : encoded;
}

/**
 * The headers that sign `input` (`authorization`, `x-amz-date`, `x-amz-content-sha256`, and the
 * session token if any), to send with the request's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const headers = signRequest({
 *   method: "GET",
 *   url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
 *   headers: { host: "examplebucket.s3.amazonaws.com", range: "bytes=0-9" },
 *   payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   region: "us-east-1",
 *   amzDate: "20130524T000000Z",
 * }, {
 *   accessKeyId: "AKIAIOSFODNN7EXAMPLE",
 *   secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
 * });
 * // The example "GET Object" of Amazon's S3 SigV4 documentation.
 * assert.match(
 *   headers.authorization,
 *   /Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41$/,
 * );
 * ```
 */
export function signRequest(input: SigningInput, credentials: Credentials): Record<string, string> {
  const added: Record<string, string> = {
    "x-amz-content-sha256": input.payloadHash,
    "x-amz-date": input.amzDate,
  };
  if (credentials.sessionToken) added["x-amz-security-token"] = credentials.sessionToken;
  const headers = { ...input.headers, ...added };
  const names = Object.keys(headers).map((name) => name.toLowerCase()).sort();
  const lowered = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const canonicalHeaders = names.map((name) => `${name}:${lowered[name].trim()}\n`).join("");
  const signedHeaders = names.join(";");
  const query = [...input.url.searchParams]
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)])
    .sort(([a, av], [b, bv]) => a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    input.method,
    input.url.pathname,
    query,
    canonicalHeaders,
    signedHeaders,
    input.payloadHash,
  ].join("\n");
  const day = input.amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    input.amzDate,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  let key: Uint8Array = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [input.region, "s3", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return {
    ...added,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}
