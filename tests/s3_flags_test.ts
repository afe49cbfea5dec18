import assert from "node:assert/strict";
import { parseS3Flags, s3Credentials } from "../cli/s3_flags.ts";
import { UsageError } from "../cli/flags.ts";
import { runCli } from "./_processes.ts";

Deno.test("--storage s3 flags: what they say, and each mistake named", () => {
  assert.equal(parseS3Flags({}), undefined, "the embedded engine by default");
  assert.deepEqual(
    parseS3Flags({
      storage: "s3",
      "s3-endpoint": "https://s3.example.net",
      "s3-bucket": "backups",
      "s3-prefix": "site1/",
      "s3-path-style": true,
    }),
    {
      endpoint: "https://s3.example.net",
      bucket: "backups",
      prefix: "site1/",
      region: "us-east-1",
      pathStyle: true,
      chunkFiles: true,
    },
  );
  const s3 = { storage: "s3", "s3-endpoint": "https://h", "s3-bucket": "bbb" };
  assert.equal(parseS3Flags({ ...s3, "no-s3-chunk-files": true })?.chunkFiles, false);
  assert.equal(parseS3Flags({ ...s3, "s3-chunk-files": true })?.chunkFiles, true);
  const refused = [
    [{ storage: "nfs" }, /fs or s3/],
    [{ storage: "s3", "s3-bucket": "b" }, /needs --s3-endpoint/],
    [{ storage: "s3", "s3-endpoint": "s3.example.net", "s3-bucket": "bb" }, /must be a URL/],
    [{ storage: "s3", "s3-endpoint": "https://h/path", "s3-bucket": "bb" }, /HOST\[:PORT\]/],
    [{ storage: "s3", "s3-endpoint": "https://h", "s3-bucket": "Bad_Name" }, /not a valid bucket/],
    [
      { storage: "s3", "s3-endpoint": "https://h", "s3-bucket": "bbb", "s3-prefix": "x" },
      /end with/,
    ],
    [{ "s3-bucket": "bbb" }, /--s3-bucket goes with --storage s3/],
    [
      {
        storage: "s3",
        "s3-endpoint": "https://h",
        "s3-bucket": "bbb",
        "s3-chunk-files": true,
        "no-s3-chunk-files": true,
      },
      /contradict/,
    ],
  ] as const;
  for (const [values, message] of refused) {
    assert.throws(
      () => parseS3Flags(values),
      (e) => e instanceof UsageError && message.test(e.message),
    );
  }
  assert.throws(
    () => s3Credentials(() => undefined),
    /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
  );
  const env: Record<string, string> = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
  assert.deepEqual(s3Credentials((name) => env[name]), {
    accessKeyId: "k",
    secretAccessKey: "s",
    sessionToken: undefined,
  });
});

Deno.test("the server CLI with --storage s3: credentials only from the environment, net to the endpoint", async () => {
  const args = [
    "--storage",
    "s3",
    "--s3-endpoint",
    "https://s3.example.net",
    "--s3-bucket",
    "backups",
  ];
  const noNet = await runCli("server.ts", [...args, "--port", "0"], {
    env: { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" },
  });
  assert.equal(noNet.code, 1);
  // Run under deno.json's "server" set, as `deno task serve` is: the store's host is missing, and
  // the `deno run` line to use instead grants it, the credentials' variables, and no file access.
  assert.match(
    noNet.stderr,
    /missing Deno permission \(--allow-net=backups\.s3\.example\.net\): deno task serve takes no/,
  );
  assert.match(
    noNet.stderr,
    /run: deno run --v8-flags=--max-semi-space-size=1 --allow-net=127\.0\.0\.1,backups\.s3\.example\.net /,
  );
  assert.doesNotMatch(noNet.stderr, /allow-read|allow-write|keep --root/, "no file access");
  const noKeys = await runCli("server.ts", [...args, "--port", "0"], {
    denoFlags: ["--allow-net", "--allow-env"],
    env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
  });
  assert.equal(noKeys.code, 2);
  assert.match(noKeys.stderr, /reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
});
