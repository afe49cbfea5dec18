import assert from "node:assert/strict";
import { type ByteSink, bytesSource } from "../io/byte_stream.ts";
import { readFull } from "../io/relay.ts";
import {
  CHUNK_SIZE,
  HEADER_SIZE,
  plainSize,
  sealedSize,
  TAG_SIZE,
} from "../client/encryption/format.ts";
import { DecryptionError, openingSink, sealingSource } from "../client/encryption/seal.ts";
import { importUserKey, passphraseKey } from "../client/encryption/keys.ts";
import { NameCipher } from "../client/encryption/names.ts";
import { startTestServer, toHex, utf8 } from "./_helpers.ts";
import { storedBytes } from "../harness/stored.ts";
import { clientWorkspace, runCli } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

// The vectors of docs/encryption.md.
const USER_KEY = new Uint8Array(32).fill(0x42);
const RANDOM = {
  fileKey: new Uint8Array(32).fill(0x11),
  wrapNonce: new Uint8Array(12).fill(0x22),
  noncePrefix: new Uint8Array(7).fill(0x33),
};

async function seal(plain: Uint8Array, name = "a.txt", random = RANDOM): Promise<Uint8Array> {
  const userKey = await importUserKey(USER_KEY);
  const source = await sealingSource(bytesSource(plain), plain.length, { userKey, name }, random);
  const out = new Uint8Array(sealedSize(plain.length));
  assert.equal(await readFull(source, out), out.length);
  assert.equal(await source.read(new Uint8Array(1)), null, "exactly the sealed size");
  return out;
}

async function open(sealed: Uint8Array, name = "a.txt", writeSize = 1000): Promise<Uint8Array> {
  const userKey = await importUserKey(USER_KEY);
  const parts: Uint8Array[] = [];
  const sink: ByteSink = { write: (b) => (parts.push(b.slice()), Promise.resolve(b.length)) };
  const opening = openingSink(sink, { userKey, name });
  for (let at = 0; at < sealed.length; at += writeSize) {
    await opening.write(sealed.subarray(at, at + writeSize));
  }
  await opening.finish();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
}

Deno.test("sizes: a header, the bytes, a tag per 64 KiB chunk and one for the (maybe empty) last", () => {
  for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * CHUNK_SIZE]) {
    const sealed = sealedSize(size);
    assert.equal(sealed, HEADER_SIZE + size + (Math.floor(size / CHUNK_SIZE) + 1) * TAG_SIZE);
    assert.equal(plainSize(sealed), size);
  }
  assert.equal(plainSize(HEADER_SIZE + 3), undefined);
});

Deno.test("the test vector of docs/encryption.md: 'hi' sealed with fixed keys", async () => {
  const sealed = await seal(utf8("hi"));
  assert.equal(
    toHex(sealed),
    "424b4531" + "22".repeat(12) + VECTOR_SEALED_KEY + "33".repeat(7) + VECTOR_CHUNK,
  );
  assert.deepEqual(await open(sealed), utf8("hi"));
});

// Checked against Python's `cryptography` (AESGCM) as well: see docs/encryption.md.
const VECTOR_SEALED_KEY = "2a13b9def3980bcf86a0edc43f62226bd2d4f05b" +
  "6c56f23bd033f4f37f7caea80d2edb6cb194d73e0185c3930b2b4dc7";
const VECTOR_CHUNK = "83adf4ae44e6066fdd8b26042dd0e3739f1b";

Deno.test("round trips at every chunk boundary, whatever size the writes come in", async () => {
  for (const size of [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]) {
    const plain = new Uint8Array(size).map((_, i) => i % 253);
    const sealed = await seal(plain, "f", {
      ...RANDOM,
      noncePrefix: crypto.getRandomValues(new Uint8Array(7)),
    });
    for (const writeSize of [1, 4096, CHUNK_SIZE + TAG_SIZE, sealed.length]) {
      if (writeSize === 1 && size > CHUNK_SIZE) continue; // byte by byte for the small ones
      assert.deepEqual(
        await open(sealed, "f", writeSize),
        plain,
        `size ${size}, writes ${writeSize}`,
      );
    }
  }
});

Deno.test("a changed byte, another name, another key, a cut or reordered file do not open", async () => {
  const plain = new Uint8Array(3 * CHUNK_SIZE).map((_, i) => i % 251);
  const sealed = await seal(plain);
  const changed = sealed.slice();
  changed[HEADER_SIZE + 100] ^= 1;
  await assert.rejects(open(changed), DecryptionError);
  await assert.rejects(open(sealed, "b.txt"), /sealed with another key, or for another name/);
  const other = sealed.slice();
  other[20] ^= 1; // the sealed file key
  await assert.rejects(open(other), DecryptionError);
  await assert.rejects(open(sealed.subarray(0, sealed.length - TAG_SIZE)), DecryptionError);
  const chunk = CHUNK_SIZE + TAG_SIZE;
  const swapped = sealed.slice();
  swapped.set(sealed.subarray(HEADER_SIZE + chunk, HEADER_SIZE + 2 * chunk), HEADER_SIZE);
  swapped.set(sealed.subarray(HEADER_SIZE, HEADER_SIZE + chunk), HEADER_SIZE + chunk);
  await assert.rejects(open(swapped), DecryptionError);
  const wrongKey = await passphraseKey("not the key", 1);
  const sink: ByteSink = { write: (b) => Promise.resolve(b.length) };
  const opening = openingSink(sink, { userKey: wrongKey, name: "a.txt" });
  await assert.rejects(opening.write(sealed), /another key/);
});

Deno.test("backup --encrypt: the server holds no plaintext; restore --encrypt gives it back", async () => {
  await using t = await startTestServer();
  await using w = await clientWorkspace("backup-encrypt-", {
    args: ["--user=3", `--server=127.0.0.1:${t.port}`],
  });
  const { dir, options, client } = w;
  assert.equal((await client("keygen")).code, 0);
  const keygen = await client("keygen", "--encryption");
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.equal(Deno.statSync(`${dir}/config/backup-client/encryption-key`).mode! & 0o777, 0o600);
  await Deno.mkdir(`${dir}/secret`);
  const text = "the secret plans ".repeat(10_000);
  await Deno.writeTextFile(`${dir}/secret/plans.txt`, text);
  await Deno.symlink("plans.txt", `${dir}/secret/latest`);
  const backup = await client("backup", "secret", "--encrypt");
  assert.equal(backup.code, 0, backup.stderr);
  const stored = new TextDecoder().decode(storedBytes(t.root, 3, "secret/plans.txt"));
  assert.ok(stored.startsWith("BKE1"), "sealed");
  assert.ok(!stored.includes("secret plans"), "no plaintext on the server");
  const again = await client("backup", "secret", "--encrypt");
  assert.match(again.stdout, /uploaded 0, unchanged 2/);
  const restore = await client("restore", "secret/", "--encrypt", "-o", "back");
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readTextFile(`${dir}/back/plans.txt`), text);
  assert.equal(await Deno.readLink(`${dir}/back/latest`), "plans.txt", "links are not sealed");
  // With a passphrase instead of the key file: another key, so the file does not open.
  await Deno.remove(`${dir}/config/backup-client/encryption-key`);
  const wrong = await runCli(
    "client.ts",
    [
      "--user=3",
      `--server=127.0.0.1:${t.port}`,
      "restore",
      "secret/plans.txt",
      "--encrypt",
      "-o",
      "x",
    ],
    { ...options, env: { ...options.env, BACKUP_PASSPHRASE: "a guess" } },
  );
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /sealed with another key/);
  assert.equal(await Deno.stat(`${dir}/x`).then(() => true, () => false), false, "nothing kept");
});

Deno.test("the names vector of docs/encryption.md; a name sealed with another key does not open", async () => {
  const cipher = await NameCipher.create(new Uint8Array(32).fill(0x42));
  const sealed = await cipher.seal("taxes/2026/");
  assert.equal(
    sealed,
    "yBBz7PH3gQ-2ra45rR2kSZt1rSemcpXQv0Op5aOCEXoY/KWI_Ca4XKdQR3hGGrvkj0TBMj1jPBwtniPSoFHH_fkM/",
  );
  assert.equal(await cipher.open(sealed.slice(0, -1)), "taxes/2026");
  const other = await NameCipher.create(new Uint8Array(32).fill(0x43));
  assert.equal(await other.open(sealed.slice(0, -1)), undefined);
  await assert.rejects(cipher.seal("x".repeat(164)), /at most 163 bytes a component/);
});

Deno.test("--encrypt-names: the server sees sealed names; list, versions, delete and restore see plain ones", async () => {
  await using t = await startTestServer();
  await using w = await clientWorkspace("backup-names-", {
    args: ["--user=4", `--server=127.0.0.1:${t.port}`],
  });
  const { dir, client } = w;
  assert.equal((await client("keygen")).code, 0);
  assert.equal((await client("keygen", "--encryption")).code, 0);
  await Deno.mkdir(`${dir}/taxes/2026`, { recursive: true });
  await Deno.writeTextFile(`${dir}/taxes/2026/return.pdf`, "numbers");
  await Deno.writeTextFile(`${dir}/taxes/notes.txt`, "notes");
  const flags = ["--encrypt", "--encrypt-names"];
  const backup = await client("backup", "taxes", ...flags);
  assert.equal(backup.code, 0, backup.stderr);
  const stored = (await client("list", "--v1")).stdout.trim().split("\n");
  assert.equal(stored.length, 2);
  for (const name of stored) {
    assert.doesNotMatch(name, /taxes|return|notes|2026/, "no plain name on the server");
  }
  assert.equal(stored[0].split("/")[0], stored[1].split("/")[0], "the folder is one sealed name");
  const listed = (await client("list", "--encrypt-names")).stdout.trim().split("\n").sort();
  assert.deepEqual(listed, ["taxes/2026/return.pdf", "taxes/notes.txt"]);
  assert.match((await client("backup", "taxes", ...flags)).stdout, /uploaded 0, unchanged 2/);
  const versions = await client("versions", "taxes/notes.txt", "--encrypt-names", "--json");
  assert.equal(JSON.parse(versions.stdout).versions.length, 1);
  const restore = await client("restore", "taxes/", ...flags, "-o", "back");
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await Deno.readTextFile(`${dir}/back/2026/return.pdf`), "numbers");
  const removed = await client("delete", "taxes/2026/", "--encrypt-names");
  assert.equal(removed.stdout, "deleted taxes/2026/return.pdf\n");
  assert.deepEqual(
    (await client("list", "--encrypt-names")).stdout.trim().split("\n"),
    ["taxes/notes.txt"],
  );
});
