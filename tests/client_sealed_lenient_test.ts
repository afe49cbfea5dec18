import assert from "node:assert/strict";
import { sealedSize } from "../client/encryption/format.ts";
import { accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

Deno.test("--allow-unsealed-links restores links and empty folders stored plain, never plain files", async () => {
  await using a = await accountWorkspace("backup-unsealed-links-");
  const work = `${a.w.dir}/work`;
  assert.equal((await a.client("keygen", "--encryption")).code, 0);
  // As a client before link and folder sealing stored them: plain, beside sealed files.
  await Deno.mkdir(`${work}/p/empty`, { recursive: true });
  await Deno.chmod(`${work}/p/empty`, 0o750);
  await Deno.symlink("f.txt", `${work}/p/link`);
  assert.equal((await a.client("backup", "--files", "p")).code, 0);
  await Deno.writeTextFile(`${work}/f.txt`, "sealed f\n");
  assert.equal((await a.client("backup", "f.txt", "--as", "p/f.txt", "--encrypt")).code, 0);

  const strict = await a.client("restore", "p/", "-o", "strict", "--encrypt");
  assert.equal(strict.code, 4, strict.stderr);
  assert.match(strict.stderr, /link .*is not sealed/);

  const lenient = await a.client(
    "restore",
    "p/",
    "-o",
    "lenient",
    "--encrypt",
    "--allow-unsealed-links",
  );
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.match(lenient.stderr, /accepted the unsealed link p\/link \(--allow-unsealed-links\)/);
  assert.match(
    lenient.stderr,
    /accepted the unsealed folder p\/empty\/ \(--allow-unsealed-links\)/,
  );
  assert.equal(await Deno.readLink(`${work}/lenient/link`), "f.txt");
  assert.equal((await Deno.stat(`${work}/lenient/empty`)).mode! & 0o777, 0o750);
  assert.equal(await Deno.readTextFile(`${work}/lenient/f.txt`), "sealed f\n");

  // A regular file stored plain is refused all the same.
  await Deno.writeTextFile(`${work}/g.txt`, "plain g\n");
  assert.equal((await a.client("backup", "g.txt", "--as", "p/g.txt")).code, 0);
  const file = await a.client(
    "restore",
    "p/g.txt",
    "-o",
    "g-back.txt",
    "--encrypt",
    "--allow-unsealed-links",
  );
  assert.equal(file.code, 1, file.stderr);
  assert.match(file.stderr, /not sealed/);
  assert.equal(await exists(`${work}/g-back.txt`), false);

  const alone = await a.client("restore", "p/", "-o", "alone", "--allow-unsealed-links");
  assert.equal(alone.code, 2, alone.stderr);
  assert.match(alone.stderr, /--allow-unsealed-links goes with restore --encrypt/);
});

Deno.test("restore --force writes a plain file that looks sealed as it is stored, with a warning", async () => {
  await using a = await accountWorkspace("backup-looks-sealed-");
  const work = `${a.w.dir}/work`;
  // Starts with the sealed format's magic and has a size a sealed payload can have.
  const bytes = new Uint8Array(sealedSize(10)).fill(0x2e);
  bytes.set(new TextEncoder().encode("BKE1"));
  await Deno.writeFile(`${work}/odd.bin`, bytes);
  assert.equal((await a.client("backup", "--files", "odd.bin")).code, 0);

  const refused = await a.client("restore", "odd.bin", "-o", "refused.bin");
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /odd\.bin was sealed .*--force to write its stored bytes/);
  assert.equal(await exists(`${work}/refused.bin`), false);

  const forced = await a.client("restore", "odd.bin", "-o", "forced.bin", "--force");
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /odd\.bin looks sealed .*written as it is stored \(--force\)/);
  assert.deepEqual(await Deno.readFile(`${work}/forced.bin`), bytes);
});
