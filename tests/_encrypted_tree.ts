/**
 * The tree the encrypted-repository tests back up (`tests/encrypted_repository_test.ts`, and on
 * S3 `tests/s3/encrypted_repository_test.ts`): known strings in a folder's name, in file contents
 * (compressible and not) and in a link's target, which must never reach the store in clear.
 */
import { randomBytes } from "node:crypto";

/** Strings of the tree that must never reach the store in clear: a name, contents, a link target. */
export const SECRETS = ["confidential-name-7f3a", "CONTENT-OF-THE-PLAN-91c2", "link-goes-to-55d0"];

export { jsonLines } from "./_processes.ts";

/** Makes the tree under `dir/src` and returns its path. */
export async function sourceTree(dir: string): Promise<string> {
  const src = `${dir}/src`;
  await Deno.mkdir(`${src}/${SECRETS[0]}`, { recursive: true });
  await Deno.writeTextFile(`${src}/${SECRETS[0]}/plan.txt`, `${SECRETS[1]}\n`.repeat(2000));
  await Deno.writeFile(`${src}/random.bin`, randomBytes(300_000));
  await Deno.writeTextFile(`${src}/small.txt`, `${SECRETS[1]} small\n`);
  await Deno.symlink(SECRETS[2], `${src}/link`);
  return src;
}
