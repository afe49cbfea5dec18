import assert from "node:assert/strict";
import { Op, Status } from "../protocol/constants.ts";
import { encodeResponseHeader } from "../protocol/response.ts";
import { fileAnswer, listAnswer, startFakeServer } from "./_fake_server.ts";
import { eventually, utf8 } from "./_helpers.ts";
import { clientWorkspace } from "./_processes.ts";
import { DENO, PROJECT_DIR } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function workspace() {
  const w = await clientWorkspace("backup-distrust-", { args: ["--user=1"], below: "work" });
  await Deno.mkdir(`${w.dir}/outside`);
  return w;
}

const outsideIsEmpty = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(`${dir}/outside`))).length === 0;

Deno.test("a listed name that climbs out of the target is refused before anything is written", async () => {
  await using w = await workspace();
  await using fake = startFakeServer((header) =>
    header.op === Op.List
      ? listAnswer(["p/ok.txt", "p/../../outside/sub/f"])
      : fileAnswer(header.name, utf8("x"))
  );
  const result = await w.client(`--server=127.0.0.1:${fake.port}`, "restore", "p/", "-o", "r");
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /invalid name/);
  assert.ok(await outsideIsEmpty(w.dir), "nothing outside the target");
  assert.equal(await Deno.stat(`${w.dir}/work/r`).then(() => true, () => false), false);
});

Deno.test("a link inside the target is never followed; the other files are restored", async () => {
  await using w = await workspace();
  await Deno.mkdir(`${w.dir}/work/r`);
  await Deno.symlink(`${w.dir}/outside`, `${w.dir}/work/r/s`);
  await using fake = startFakeServer((header) =>
    header.op === Op.List
      ? listAnswer(["p/a.txt", "p/s/planted.txt"])
      : fileAnswer(header.name, utf8("planted"))
  );
  const result = await w.client(
    `--server=127.0.0.1:${fake.port}`,
    "restore",
    "p/",
    "-o",
    "r",
    "--force",
  );
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /not restored: p\/s\/planted\.txt: .*symbolic link: not followed/);
  assert.ok(await outsideIsEmpty(w.dir), "nothing written through the link");
  assert.equal(await Deno.readTextFile(`${w.dir}/work/r/a.txt`), "planted");
});

Deno.test("a list declaring 4 GiB, an answer for another name: protocol errors, exit 3", async () => {
  await using w = await workspace();
  await using fake = startFakeServer((header) =>
    header.op === Op.List
      ? encodeResponseHeader({
        status: Status.ListSent,
        name: "x".repeat(32),
        payloadSize: 0xffff_ffff,
      })
      : fileAnswer("other.txt", utf8("not what was asked"))
  );
  const server = `--server=127.0.0.1:${fake.port}`;
  const list = await w.client(server, "list");
  assert.equal(list.code, 3);
  assert.match(list.stderr, /declares a list of 4294967295 bytes/);
  const restore = await w.client(server, "restore", "mine.txt");
  assert.equal(restore.code, 3);
  assert.match(restore.stderr, /asked about mine\.txt, the server answered about other\.txt/);
  assert.deepEqual([...Deno.readDirSync(`${w.dir}/work`)], [], "no file and no partial file");
});

Deno.test("names are printed with terminal controls escaped", async () => {
  await using w = await workspace();
  await using fake = startFakeServer(() => listAnswer(["a\u009b2Jb.txt", "\u202eevil.txt"]));
  const result = await w.client(`--server=127.0.0.1:${fake.port}`, "list");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "a\\u{9b}2Jb.txt\n\\u{202e}evil.txt\n");
});

Deno.test("Ctrl-C during a restore leaves no partial file", async () => {
  await using w = await workspace();
  const size = 10 * 1024 * 1024;
  await using fake = startFakeServer((header) =>
    header.op === Op.Retrieve
      ? encodeResponseHeader({ status: Status.FileRestored, name: header.name, payloadSize: size })
      : "hang"
  );
  // The header promises 10 MiB; the fake sends none of it, so the restore waits mid-download.
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--quiet",
      `--config=${PROJECT_DIR}/deno.json`,
      "-P=client",
      `${PROJECT_DIR}/client.ts`,
      "--user=1",
      `--server=127.0.0.1:${fake.port}`,
      "restore",
      "big.bin",
    ],
    cwd: `${w.dir}/work`,
    env: { XDG_CONFIG_HOME: `${w.dir}/config`, HOME: w.dir, NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const partials = () =>
    [...Deno.readDirSync(`${w.dir}/work`)].filter((e) => e.name.includes(".partial-"));
  await eventually(() => Promise.resolve(partials().length === 1), "the partial file");
  child.kill("SIGINT");
  const status = await child.status;
  assert.equal(status.code, 130);
  assert.deepEqual(partials(), []);
});
