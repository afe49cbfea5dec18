import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeEntry, encodeResponseV2, END_OF_ENTRIES } from "../protocol/v2/responses.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { loadKey } from "../client/keys.ts";
import { infoOf, startFakeServerV2 } from "./_fake_server_v2.ts";
import { ACCOUNT_ID, accountWorkspace } from "./_cli_account.ts";
import { clientWorkspace } from "./_processes.ts";
import { concat, hex, utf8 } from "./_helpers.ts";
import { CA } from "./_v2.ts";
import { sealedSize } from "../client/encryption/format.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

Deno.test("without --encrypt, sealed files are neither written as plaintext nor replaced by plain copies", async () => {
  await using a = await accountWorkspace("backup-sealed-");
  const work = `${a.w.dir}/work`;
  assert.equal((await a.client("keygen", "--encryption")).code, 0);
  await Deno.mkdir(`${work}/p`);
  await Deno.writeTextFile(`${work}/p/a.txt`, "secret a\n");
  await Deno.writeTextFile(`${work}/p/b.txt`, "secret b\n");
  assert.equal((await a.client("backup", "p", "--encrypt")).code, 0);

  const folder = await a.client("restore", "p/", "-o", "r");
  assert.notEqual(folder.code, 0);
  assert.match(
    folder.stderr,
    /p\/[ab]\.txt was sealed \(backup --encrypt\): restore it with --encrypt/,
  );
  assert.equal(await exists(`${work}/r/a.txt`), false, "no ciphertext written as a.txt");
  assert.equal(await exists(`${work}/r/b.txt`), false);
  const one = await a.client("restore", "p/a.txt", "-o", "one.txt");
  assert.equal(one.code, 1, one.stderr);
  assert.equal(await exists(`${work}/one.txt`), false);

  await Deno.writeTextFile(`${work}/p/a.txt`, "changed a\n");
  const plain = await a.client("backup", "--files", "p");
  assert.equal(plain.code, 2, plain.stderr);
  // b.txt may be looked at first when its time does not tell it unchanged (same second as a.txt's).
  assert.match(plain.stderr, /holds p\/[ab]\.txt sealed .*--encrypt, or pass --force/);
  const back = await a.client("restore", "p/", "-o", "back", "--encrypt");
  assert.equal(back.code, 0, back.stderr);
  assert.equal(
    await Deno.readTextFile(`${work}/back/a.txt`),
    "secret a\n",
    "still the sealed copy",
  );

  const forced = await a.client("backup", "p", "--force");
  assert.equal(forced.code, 0, forced.stderr);
  const after = await a.client("restore", "p/", "-o", "after");
  assert.equal(after.code, 0, after.stderr);
  assert.equal(await Deno.readTextFile(`${work}/after/a.txt`), "changed a\n");
});

Deno.test("a plain backup of many changed files looks at most once for sealed copies", async () => {
  await using a = await accountWorkspace("backup-sealed-once-");
  const work = `${a.w.dir}/work`;
  await Deno.mkdir(`${work}/p`);
  // Every size here could be a sealed one, so each stored copy is a candidate for the look; one
  // small file stays unchanged (the preferred sample: read whole, the connection kept).
  const size = sealedSize(100_000);
  const names = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, "0")}.bin`);
  for (const name of names) await Deno.writeFile(`${work}/p/${name}`, new Uint8Array(size).fill(1));
  await Deno.writeFile(`${work}/p/small.bin`, new Uint8Array(sealedSize(1000)).fill(3));
  assert.equal((await a.client("backup", "--files", "p", "-j", "1")).code, 0);
  for (const name of names) await Deno.writeFile(`${work}/p/${name}`, new Uint8Array(size).fill(2));

  const before = a.server.server.stats();
  const plain = await a.client("backup", "--files", "p", "-j", "1");
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout + plain.stderr, /uploaded 20, unchanged 1/);
  const after = a.server.server.stats();
  const retrieves = (stats: typeof before) =>
    Object.values(stats.requests.retrieve ?? {}).reduce((sum, count) => sum + count, 0);
  assert.equal(after.connectionsAccepted - before.connectionsAccepted, 1, "one connection");
  assert.equal(retrieves(after) - retrieves(before), 1, "one look, at the small copy");
});

Deno.test("--encrypt seals links and empty folders; a file sealed by an earlier client still restores", async () => {
  await using a = await accountWorkspace("backup-sealed-kinds-");
  const work = `${a.w.dir}/work`;
  // The user key of docs/encryption.md's test vector, and "hi" sealed for a.txt with it, byte for
  // byte as clients before link and folder sealing wrote it.
  await Deno.mkdir(`${a.w.dir}/config/backup-client`, { recursive: true });
  await Deno.writeTextFile(
    `${a.w.dir}/config/backup-client/encryption-key`,
    btoa(String.fromCharCode(...new Uint8Array(32).fill(0x42))),
  );
  const old = hex(
    "424b4531" + "22".repeat(12) + "2a13b9def3980bcf86a0edc43f62226bd2d4f05b" +
      "6c56f23bd033f4f37f7caea80d2edb6cb194d73e0185c3930b2b4dc7" + "33".repeat(7) +
      "83adf4ae44e6066fdd8b26042dd0e3739f1b",
  );
  {
    using client = await BackupClientV2.connect({
      userId: ACCOUNT_ID,
      key: await loadKey(`${a.w.dir}/config/backup-client/key`),
      hostname: "127.0.0.1",
      port: a.server.port,
      tls: true,
      caCerts: [CA],
    });
    await client.backup("a.txt", bytesSource(old), old.length);
  }
  const restored = await a.client("restore", "a.txt", "--encrypt");
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(await Deno.readTextFile(`${work}/a.txt`), "hi");

  await Deno.mkdir(`${work}/p/empty`, { recursive: true, mode: 0o750 });
  await Deno.chmod(`${work}/p/empty`, 0o750);
  await Deno.writeTextFile(`${work}/p/f.txt`, "f\n");
  await Deno.symlink("f.txt", `${work}/p/link`);
  assert.equal((await a.client("backup", "p", "--encrypt")).code, 0);
  const again = await a.client("backup", "p", "--encrypt");
  assert.match(
    again.stdout + again.stderr,
    /uploaded 0, unchanged 3/,
    "sealed links and markers compare",
  );
  const back = await a.client("restore", "p/", "-o", "back", "--encrypt");
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await Deno.readLink(`${work}/back/link`), "f.txt");
  assert.equal((await Deno.stat(`${work}/back/empty`)).mode! & 0o777, 0o750);
  // What the server holds of the link and the marker is sealed: neither the target nor a plain marker.
  const plain = await a.client("restore", "p/link", "-o", "plain-link");
  assert.notEqual(plain.code, 0);
  assert.equal(await exists(`${work}/plain-link`), false);
});

/** A version 2 answer to a retrieve: `content` with its digest and these metadata. */
function fileAnswer(name: string, content: Uint8Array, mode: number) {
  const sha256 = new Uint8Array(createHash("sha256").update(content).digest());
  return concat(
    encodeResponseV2({
      status: StatusV2.FileRestored,
      name,
      info: infoOf({ size: content.length, mode, sha256 }),
    }),
    content,
  );
}

Deno.test("under --encrypt, an unsealed link or folder marker from the server is refused", async () => {
  await using w = await clientWorkspace("backup-sealed-hostile-", { args: ["--user=1"] });
  assert.equal((await w.client("keygen")).code, 0);
  assert.equal((await w.client("keygen", "--encryption")).code, 0);
  await Deno.mkdir(`${w.dir}/outside`);
  await Deno.writeTextFile(`${w.dir}/outside/secret`, "outside");
  const marker = "p/e/.backup-folder";
  await using fake = startFakeServerV2((request) => {
    if (request.op === OpV2.Retrieve && request.name === "a.txt") {
      return fileAnswer("a.txt", utf8(`${w.dir}/outside/secret`), 0o120777);
    }
    if (request.op === OpV2.Retrieve) return fileAnswer(request.name, new Uint8Array(), 0o777);
    return concat(
      encodeResponseV2({ status: StatusV2.EntriesSent }),
      encodeEntry({ name: utf8(marker), info: infoOf({ size: 0, mode: 0o777 }) }),
      END_OF_ENTRIES,
    );
  });
  const server = `--server=127.0.0.1:${fake.port}`;
  const link = await w.client(server, "restore", "a.txt", "--encrypt");
  assert.equal(link.code, 1, link.stderr);
  assert.match(link.stderr, /a link a\.txt is not sealed: refused/);
  assert.equal(await exists(`${w.dir}/a.txt`), false, "no link to outside the target");

  const folder = await w.client(server, "restore", "p/", "-o", "r", "--encrypt");
  assert.equal(folder.code, 4, folder.stderr);
  assert.match(
    folder.stderr,
    /not restored: p\/e\/\.backup-folder: the folder p\/e\/ is not sealed/,
  );
  assert.notEqual((await Deno.stat(`${w.dir}/r/e`)).mode! & 0o777, 0o777);
});
