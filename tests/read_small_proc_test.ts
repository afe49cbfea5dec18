/**
 * A small file read in one go (`FileReaders.readSmall`) is read to its end even when `lstat` says 0
 * bytes and reads come back a page at a time, as /proc's files do. In a process of its own: Deno
 * asks for every permission to read /proc.
 */
import assert from "node:assert/strict";
import { DENO, PROJECT_DIR } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Over a page, steady while the test runs; `lstat` says 0. */
const PROC_FILE = "/proc/crypto";

const SCRIPT = `
import { FileReaders } from "${PROJECT_DIR}/client/snapshot/file_readers.ts";
const stored = [];
const problems = [];
const readers = new FileReaders({
  readers: 1,
  readBytes: 64 * 1024,
  syncSmall: true,
  open: (path) => Deno.open(path),
  pipeline: { add(blob, release) { stored.push(blob.raw.slice()); release?.(); return Promise.resolve(); } },
  progress: { emit() {}, error(path, kind) { problems.push(kind + ": " + path); } },
});
const size = (await Deno.lstat("${PROC_FILE}")).size;
const whole = await Deno.readFile("${PROC_FILE}");
const read = await readers.readSmall("${PROC_FILE}", size);
const same = stored.length === 1 && stored[0].length === whole.length &&
  stored[0].every((byte, i) => byte === whole[i]);
console.log(JSON.stringify({ size, whole: whole.length, read: read?.size, same, problems }));
`;

Deno.test({
  name: "a file that lstat says is empty and reads a page at a time is read whole",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command(DENO, {
      args: ["eval", "-A", "--quiet", SCRIPT],
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(result.size, 0, "the premise: /proc says 0 bytes");
    assert.ok(result.whole > 4096, `${result.whole} bytes: more than a page`);
    assert.equal(result.read, result.whole, "read whole");
    assert.ok(result.same, "the bytes read are the file's");
    assert.deepEqual(result.problems, [`changed: ${PROC_FILE}`], "its size differs from lstat's");
  },
});
