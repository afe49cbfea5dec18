/**
 * The server's storage flags: `--storage fs|s3` and the bucket's address. Credentials never come
 * from flags: `s3Credentials` reads the usual environment variables.
 *
 * @module
 */
import type { Credentials } from "../objects/s3/sigv4.ts";
import { UsageError } from "./flags.ts";

/** Where an S3-backed server stores, as the flags say. */
export interface S3Config {
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  pathStyle: boolean;
  /**
   * Large files as chunks in packs (docs/storage.md): on unless `--no-s3-chunk-files`
   * (`--s3-chunk-files`, the default, is still accepted).
   */
  chunkFiles?: boolean;
}

/** The flags this module reads. */
export const S3_FLAGS = {
  storage: { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-bucket": { type: "string" },
  "s3-prefix": { type: "string" },
  "s3-region": { type: "string" },
  "s3-path-style": { type: "boolean" },
  "s3-chunk-files": { type: "boolean" },
  "no-s3-chunk-files": { type: "boolean" },
} as const;

/** The environment variables an S3-backed server reads. */
export const S3_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

type S3Values = {
  storage?: string;
  "s3-endpoint"?: string;
  "s3-bucket"?: string;
  "s3-prefix"?: string;
  "s3-region"?: string;
  "s3-path-style"?: boolean;
  "s3-chunk-files"?: boolean;
  "no-s3-chunk-files"?: boolean;
};

/**
 * The S3 config, or `undefined` for the embedded engine (`--storage fs`, the default).
 *
 * @throws {UsageError} for a missing or bad endpoint or bucket, or S3 flags without `--storage s3`.
 */
export function parseS3Flags(values: S3Values): S3Config | undefined {
  const storage = values.storage ?? "fs";
  if (storage !== "fs" && storage !== "s3") {
    throw new UsageError(`--storage must be fs or s3, got "${storage}"`);
  }
  if (storage === "fs") {
    const stray = Object.keys(S3_FLAGS).find((flag) => flag !== "storage" && flag in values);
    if (stray) throw new UsageError(`--${stray} goes with --storage s3`);
    return undefined;
  }
  const endpoint = values["s3-endpoint"];
  const bucket = values["s3-bucket"];
  if (!endpoint || !bucket) {
    throw new UsageError("--storage s3 needs --s3-endpoint and --s3-bucket");
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(
      `--s3-endpoint must be a URL like https://s3.example.net, got "${endpoint}"`,
    );
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.pathname !== "/") {
    throw new UsageError(`--s3-endpoint must be http(s)://HOST[:PORT], got "${endpoint}"`);
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`--s3-bucket "${bucket}" is not a valid bucket name`);
  }
  if (values["s3-chunk-files"] && values["no-s3-chunk-files"]) {
    throw new UsageError("--s3-chunk-files and --no-s3-chunk-files contradict each other");
  }
  const prefix = values["s3-prefix"] ?? "";
  if (prefix !== "" && !prefix.endsWith("/")) {
    throw new UsageError(`--s3-prefix must end with "/", got "${prefix}"`);
  }
  return {
    endpoint: url.origin,
    bucket,
    prefix,
    region: values["s3-region"] ?? "us-east-1",
    pathStyle: values["s3-path-style"] ?? false,
    chunkFiles: !values["no-s3-chunk-files"],
  };
}

/**
 * The host the server connects to for `s3`: the endpoint's, or the bucket's below it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(storeHost({ endpoint: "https://s3.example.net", bucket: "b1" }), "b1.s3.example.net");
 * assert.equal(storeHost({ endpoint: "http://h:9000", bucket: "b1", pathStyle: true }), "h:9000");
 * ```
 */
export function storeHost(s3: { endpoint: string; bucket: string; pathStyle?: boolean }): string {
  const { host } = new URL(s3.endpoint);
  return s3.pathStyle ? host : `${s3.bucket}.${host}`;
}

/**
 * The credentials in `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
 *
 * @throws {UsageError} if either of the first two is missing.
 */
export function s3Credentials(env: (name: string) => string | undefined): Credentials {
  const accessKeyId = env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError("--storage s3 reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return { accessKeyId, secretAccessKey, sessionToken: env("AWS_SESSION_TOKEN") || undefined };
}
