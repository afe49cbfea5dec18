/**
 * `dump` of a folder: a tar archive that GNU tar lists and extracts to the same tree (contents,
 * modes, times, links, long and non-ASCII names); the framing's pax records checked on their own.
 */
import assert from "node:assert/strict";
import { accountWorkspace, spawnClient } from "./_cli_account.ts";
import { tarEnd, tarHeader, tarPadding } from "../client/snapshot/tar_stream.ts";

async function run(command: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, env: { TZ: "UTC" } }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(
    output.code,
    0,
    `${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`,
  );
  return text;
}

const LONG = `${"d".repeat(60)}/${"e".repeat(70)}`;
const UNICODE = "Grüße 雪.txt";

async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/${LONG}`, { recursive: true });
  await Deno.mkdir(`${root}/.ssh`, { mode: 0o700 });
  await Deno.chmod(`${root}/.ssh`, 0o700);
  await Deno.writeFile(`${root}/.ssh/id`, new TextEncoder().encode("secret\n"), { mode: 0o600 });
  await Deno.chmod(`${root}/.ssh/id`, 0o600);
  await Deno.writeTextFile(`${root}/${LONG}/${"f".repeat(90)}.txt`, "deep\n");
  await Deno.writeTextFile(`${root}/${UNICODE}`, "ünïcode\n");
  const big = new Uint8Array(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
  await Deno.writeFile(`${root}/big.bin`, big);
  await Deno.writeFile(`${root}/empty`, new Uint8Array(0));
  await Deno.symlink(`${LONG}/${"f".repeat(90)}.txt`, `${root}/long-link`);
  await Deno.utime(`${root}/big.bin`, 1_600_000_000, 1_600_000_000);
}

Deno.test("dump of a folder is a tar archive that tar extracts to the same tree", async () => {
  await using a = await accountWorkspace("snapdump-");
  const src = `${a.w.dir}/src`;
  await makeTree(src);
  const backup = await a.client("backup", src, "--host=h", "--quiet");
  assert.equal(backup.code, 0, backup.stderr);

  for (const [path, below] of [[src, src.slice(1)], ["/", src.slice(1)]]) {
    const dump = spawnClient(a, ["dump", "latest", path, "--host=h"]);
    await dump.stdin.close();
    const out = await dump.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const archive = `${a.w.dir}/dump.tar`;
    await Deno.writeFile(archive, out.stdout);
    const target = await Deno.makeTempDir({ dir: a.w.dir });
    await run("tar", "-x", "-p", "-f", archive, "-C", target);
    const diff = await new Deno.Command("diff", {
      args: ["-r", "--no-dereference", src, `${target}/${below}`],
    }).output();
    assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));
    const back = `${target}/${below}`;
    assert.equal((await Deno.stat(`${back}/.ssh`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${back}/.ssh/id`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${back}/big.bin`)).mtime!.getTime(), 1_600_000_000_000);
    assert.equal(await Deno.readLink(`${back}/long-link`), `${LONG}/${"f".repeat(90)}.txt`);
    const listing = await run("tar", "-t", "-f", archive);
    assert.ok(listing.includes(`${below}/${UNICODE}\n`), listing);
  }
});

Deno.test("tar framing: pax records for what ustar cannot hold, blocks of 512", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tar-" });
  try {
    const body = new TextEncoder().encode("x".repeat(700));
    const parts = [
      tarHeader({ path: "a", type: "dir", mode: 0o755, size: 0, mtimeMs: 1_000, uid: 1, gid: 2 }),
      tarHeader({
        path: `a/${"n".repeat(150)}`,
        type: "file",
        mode: 0o640,
        size: body.length,
        mtimeMs: 1_700_000_000_123,
        uid: 3_000_000, // over ustar's 7 octal digits
        gid: 5,
        user: "a-user-name-longer-than-thirty-one-bytes",
        group: "g",
      }),
      body,
      tarPadding(body.length),
      tarEnd(),
    ];
    for (const part of parts.slice(0, 2)) assert.equal(part.length % 512, 0);
    const file = `${dir}/t.tar`;
    await Deno.writeFile(file, new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer()));
    const listing = await run("tar", "--numeric-owner", "--full-time", "-tvf", file);
    const lines = listing.trim().split("\n");
    assert.match(lines[0], /^drwxr-xr-x 1\/2 +0 1970-01-01 00:00:01 a\/$/);
    assert.match(
      lines[1],
      new RegExp(`^-rw-r----- 3000000/5 +700 2023-11-14 22:13:20(\\.123)? a/n{150}$`),
    );
    const names = await run("tar", "-tvf", file);
    assert.match(names, /a-user-name-longer-than-thirty-one-bytes\/g/);
    await run("tar", "-x", "-f", file, "-C", dir);
    assert.equal(await Deno.readTextFile(`${dir}/a/${"n".repeat(150)}`), "x".repeat(700));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
