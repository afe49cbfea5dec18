/** Protocol v2 (accounts, TLS, digests, versions, lists at a time) on the S3 backend. */
import { versionsAndTimes } from "../_v2_history.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";

Deno.test({
  name: "S3 backend over v2: versions, a past version retrieved, a prefix listed as it was",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    versionsAndTimes({
      s3: { location: testLocation(), prefix: freshPrefix(), serverTag: "v2-test" },
    }),
});
