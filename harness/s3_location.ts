/**
 * The object store the S3 suites run against: `tools/s3_engine.sh run` starts a real one and sets
 * these variables. Without them the suites fail: they are never skipped.
 *
 * @module
 */
import type { S3Location } from "../objects/s3/s3_client.ts";

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

const ENGINE_SCRIPT = new URL("../tools/s3_engine.sh", import.meta.url).pathname;

/**
 * The store for the bench: the one in the environment if `S3_TEST_ENDPOINT` is set, else a new
 * Swift engine (`tools/s3_engine.sh start`), whose variables are set here for the processes to come.
 */
export async function useEngine(): Promise<AsyncDisposable> {
  if (Deno.env.get("S3_TEST_ENDPOINT")) return { [Symbol.asyncDispose]: () => Promise.resolve() };
  const dir = await Deno.makeTempDir({ prefix: "s3-engine-" });
  const run = (action: string) =>
    new Deno.Command("bash", { args: [ENGINE_SCRIPT, action, dir], stdout: "null" }).output();
  const stop = async () => {
    await run("stop");
    await Deno.remove(dir, { recursive: true });
  };
  if (!(await new Deno.Command("bash", { args: [ENGINE_SCRIPT, "install"] }).output()).success) {
    throw new Error("could not install the S3 engine's packages");
  }
  if (!(await run("start")).success) {
    await stop();
    throw new Error("the S3 engine did not start");
  }
  const names: string[] = [];
  for (const line of (await Deno.readTextFile(`${dir}/env`)).split("\n")) {
    const match = /^export (\w+)=(.*)$/.exec(line);
    if (match) {
      Deno.env.set(match[1], match[2]);
      names.push(match[1]);
    }
  }
  return {
    async [Symbol.asyncDispose]() {
      for (const name of names) Deno.env.delete(name);
      await stop();
    },
  };
}
