/**
 * The object store the S3 suites run against: `tools/s3_engine.sh run` starts a real one and sets
 * these variables. Without them the suites fail: they are never skipped.
 *
 * @module
 */
import type { S3Location } from "../../storage/s3/s3_client.ts";

/** The store `deno task test:s3` started. */
export function testLocation(): S3Location {
  const endpoint = Deno.env.get("S3_TEST_ENDPOINT");
  if (!endpoint) {
    throw new Error("no S3_TEST_ENDPOINT: run these tests with `deno task test:s3`");
  }
  return {
    endpoint,
    bucket: Deno.env.get("S3_TEST_BUCKET") ?? "backups",
    region: Deno.env.get("S3_TEST_REGION") ?? "us-east-1",
    pathStyle: true,
    credentials: {
      accessKeyId: Deno.env.get("AWS_ACCESS_KEY_ID") ?? "",
      secretAccessKey: Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "",
    },
  };
}

/** A prefix no other test uses. */
export function freshPrefix(): string {
  return `t-${crypto.randomUUID().slice(0, 8)}/`;
}
