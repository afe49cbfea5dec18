/**
 * Encrypted repositories end to end on S3 (Swift): two servers on one bucket, the client's
 * command line against them over TLS. `init` and `backup` go through server A; `snapshots` and a
 * byte-for-byte `restore` through server B; `key passwd` through B, after which the old
 * passphrase opens nothing through either. Then the whole bucket (every key, header and body, as
 * the S3 API gives them) and both servers' local folders hold none of the tree's names, contents
 * or link target, nor the snapshot's host, tag or path, nor the passphrase, while the same search does find a plain account's small file in that bucket.
 */
import assert from "node:assert/strict";
import { jsonLines, SECRETS, sourceTree } from "../_encrypted_tree.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import { type ClientWorkspace, clientWorkspace } from "../_processes.ts";
import { startTestServer, type TestServer } from "../_helpers.ts";
import { TLS } from "../_v2.ts";
import { searchBucket, searchFolder } from "./_bucket_grep.ts";

// The client's keep-alive sockets to the store outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const SEALED_USER = 7;
const PLAIN_USER = 8;
/** What a snapshot record holds (host, tag) and a passphrase: never in clear either. */
const HOST = "host-name-c41d";
const TAG = "tag-name-9b2e";
const PASSPHRASE = "correct horse battery staple";
/** The plain account's small file and host (in its snapshot record): the search must find both. */
const PLAIN_TEXT = "PLAIN-ACCOUNT-TEXT-3e8b";
const PLAIN_HOST = "plain-host-5a07";

async function registerKey(w: ClientWorkspace, id: number) {
  const keygen = await w.client("keygen");
  assert.equal(keygen.code, 0, keygen.stderr);
  return { id, name: `user${id}`, keys: [keygen.stdout.trim()] };
}

/** Runs `w`'s client CLI against `server` as `user`. */
function via(w: ClientWorkspace, server: TestServer, user: number) {
  return (...args: string[]) =>
    w.client(
      `--server=127.0.0.1:${server.port}`,
      `--user=${user}`,
      `--ca=${TLS.certFile}`,
      ...args,
    );
}

Deno.test("s3 encrypted repository: two servers on one bucket, nothing in clear anywhere in the bucket", async () => {
  await using w = await clientWorkspace("s3enc-", { below: "work" });
  await using plain = await clientWorkspace("s3enc-plain-", { below: "work" });
  const usersFile = `${w.dir}/users.json`;
  const users = [await registerKey(w, SEALED_USER), await registerKey(plain, PLAIN_USER)];
  await Deno.writeTextFile(usersFile, JSON.stringify({ users }));
  const prefix = freshPrefix();
  const s3 = (serverTag: string) => ({
    location: testLocation(),
    prefix,
    serverTag,
    chunkFiles: true,
  });
  const bucket = new S3Client(testLocation());
  try {
    await using a = await startTestServer({ tls: TLS, access: { usersFile }, s3: s3("a") });
    await using b = await startTestServer({ tls: TLS, access: { usersFile }, s3: s3("b") });
    const onA = via(w, a, SEALED_USER);
    const onB = via(w, b, SEALED_USER);
    const src = await sourceTree(w.dir);
    const password = async (name: string, text: string) => {
      await Deno.writeTextFile(`${w.dir}/${name}`, `${text}\n`);
      return `--password-file=${w.dir}/${name}`;
    };
    const pw1 = await password("pw1", PASSPHRASE);
    const pw2 = await password("pw2", "the second, after passwd");
    const cheap = "--kdf-cost=10"; // scrypt's default cost is for people, not for tests

    const init = await onA("init", pw1, cheap);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /encrypted repository made/);
    const backup = await onA("backup", src, `--host=${HOST}`, `--tag=${TAG}`, "--json", pw1);
    assert.equal(backup.code, 0, backup.stderr);
    const made = jsonLines(backup.stdout).find((line) => line.op === "backup" && line.ok);
    assert.ok(made, `a snapshot was made:\n${backup.stdout}\n${backup.stderr}`);

    // Server B never saw this account: it learns the key slot and the snapshot from the bucket.
    const locked = await onB("snapshots");
    assert.equal(locked.code, 2, locked.stderr);
    assert.match(locked.stderr, /repository is encrypted: give its passphrase/);
    const listed = await onB("snapshots", "--json", pw1);
    assert.equal(listed.code, 0, listed.stderr);
    const records = JSON.parse(listed.stdout) as Array<
      { id: string; hostname: string; tags: string[] }
    >;
    assert.deepEqual(records.map((s) => [s.id, s.hostname, s.tags]), [[made.snapshot, HOST, [
      TAG,
    ]]]);
    const target = `${w.dir}/restored`;
    const restore = await onB("restore", "latest", `--target=${target}`, `--host=${HOST}`, pw1);
    assert.equal(restore.code, 0, restore.stderr);
    const diff = await new Deno.Command("diff", {
      args: ["-r", "--no-dereference", src, `${target}${src}`],
    }).output();
    assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));

    // A new passphrase through B: the old one opens nothing through either server.
    const passwd = await onB("key", "passwd", pw1, `--new-${pw2.slice(2)}`, cheap);
    assert.equal(passwd.code, 0, passwd.stderr);
    for (const [name, run] of [["B", onB], ["A", onA]] as const) {
      const old = await run("snapshots", pw1);
      assert.equal(old.code, 1, `server ${name}: ${old.stdout}${old.stderr}`);
      assert.match(old.stderr, /does not open this repository's key/);
      const now = await run("snapshots", "--json", pw2);
      assert.equal(now.code, 0, `server ${name}: ${now.stderr}`);
      assert.equal(JSON.parse(now.stdout).length, 1);
    }
    const check = await onA("check", "--read-data", pw2);
    assert.equal(check.code, 0, check.stdout + check.stderr);

    // A plain account on the same bucket: the search below must find what it stores in clear.
    const plainSrc = `${plain.dir}/src`;
    await Deno.mkdir(plainSrc);
    await Deno.writeTextFile(`${plainSrc}/note.txt`, `${PLAIN_TEXT}\n`);
    const plainBackup = await via(plain, a, PLAIN_USER)("backup", plainSrc, `--host=${PLAIN_HOST}`);
    assert.equal(plainBackup.code, 0, plainBackup.stderr);

    // The source folder's path (a fresh temp folder) is in the snapshot record only.
    const hidden = [...SECRETS, HOST, TAG, PASSPHRASE, src];
    const inBucket = await searchBucket(bucket, "", [...hidden, PLAIN_TEXT, PLAIN_HOST]);
    assert.ok(inBucket.bytes > 300_000, `read ${inBucket.bytes} bytes of ${inBucket.read} objects`);
    const plainHits = (needle: string) => inBucket.found.filter((hit) => hit.startsWith(needle));
    assert.deepEqual(inBucket.found.filter((hit) => hidden.some((h) => hit.startsWith(h))), []);
    assert.ok(plainHits(PLAIN_TEXT).length > 0, `the search finds plain text: ${inBucket.found}`);
    assert.ok(plainHits(PLAIN_HOST).length > 0, `the search finds a plain host: ${inBucket.found}`);
    for (const server of [a, b]) {
      assert.deepEqual((await searchFolder(server.root, hidden)).found, []);
    }
  } finally {
    for await (const page of bucket.list(prefix)) {
      await Promise.all(page.map(({ key }) => bucket.delete(key)));
    }
  }
});
