/**
 * Encrypted repositories from the client's command line against a real server (TLS, an account,
 * the embedded store): issue 23's "done means". `init` makes the account's repository encrypted;
 * a backup then leaves none of the tree's names, contents or link targets anywhere in the
 * server's root; every command needs the passphrase or key file (none, or a wrong one, is
 * refused); `key add`, `key passwd` and `key remove` change who can open it while every
 * snapshot still restores byte for byte; the client refuses a plain repository when a secret is
 * given (no silent downgrade), and the server refuses a first key slot after plain snapshots.
 */
import assert from "node:assert/strict";
import { jsonLines, SECRETS, sourceTree } from "./_encrypted_tree.ts";
import { DatabaseSync } from "node:sqlite";
import { ACCOUNT_ID, type AccountWorkspace, accountWorkspace } from "./_cli_account.ts";
import { INDEX_FILE_NAME } from "../storage/embedded/options.ts";
import { clientWorkspace, keyedUsersFile } from "./_processes.ts";
import { startTestServer } from "./_helpers.ts";
import { startsSessionV3 } from "../protocol/v3/handshake.ts";
import { makeSlot, newMasterKey, readSlotInfo } from "../client/repository_keys/key_slot.ts";
import { SessionV3 } from "../client/session_v3.ts";
import { SealedCodec } from "../client/sealed_codec_v3.ts";
import { loadKey } from "../client/keys.ts";
import { TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function passwordFile(a: AccountWorkspace, name: string, text: string): Promise<string> {
  const path = `${a.w.dir}/${name}`;
  await Deno.writeTextFile(path, `${text}\n`);
  return `--password-file=${path}`;
}

/** Every file under `root`, searched for each of `needles` as bytes. */
async function foundIn(root: string, needles: string[]): Promise<string[]> {
  const found: string[] = [];
  const wanted = needles.map((needle) => new TextEncoder().encode(needle));
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      if (!entry.isFile) continue;
      const bytes = await Deno.readFile(path);
      const text = new TextDecoder("latin1").decode(bytes);
      for (const [i, needle] of wanted.entries()) {
        if (text.includes(new TextDecoder("latin1").decode(needle))) {
          found.push(`${needles[i]} in ${path}`);
        }
      }
    }
  };
  await walk(root);
  return found;
}

async function sameTree(a: string, b: string): Promise<void> {
  const diff = await new Deno.Command("diff", { args: ["-r", "--no-dereference", a, b] }).output();
  assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));
}

Deno.test("an encrypted repository: nothing in clear on the server, keys changed, every snapshot restores", async () => {
  await using a = await accountWorkspace("backup-encrypted-");
  const src = await sourceTree(a.w.dir);
  const pw1 = await passwordFile(a, "pw1", "correct horse battery staple");
  const pw2 = await passwordFile(a, "pw2", "a second passphrase");
  const pw3 = await passwordFile(a, "pw3", "the third, after passwd");
  const cheap = "--kdf-cost=10"; // scrypt's default cost is for people, not for tests

  const init = await a.client("init", pw1, cheap);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /encrypted repository made/);
  const again = await a.client("init", pw1, cheap);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /encrypted already/);

  const locked = await a.client("backup", src, "--host=h1");
  assert.equal(locked.code, 2, locked.stderr);
  assert.match(locked.stderr, /repository is encrypted: give its passphrase/);

  const first = await a.client("backup", src, "--host=h1", "--json", pw1);
  assert.equal(first.code, 0, first.stderr);
  const snapshot = String(jsonLines(first.stdout).find((l) => l.op === "backup" && l.ok)!.snapshot);
  assert.deepEqual(await foundIn(a.server.root, SECRETS), []);

  const wrong = await a.client("snapshots", await passwordFile(a, "bad", "a guess"));
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /does not open this repository's key/);

  const listed = await a.client("ls", "latest", "--host=h1", "-l", pw1);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${SECRETS[0]}/plan.txt`));
  assert.match(listed.stdout, new RegExp(SECRETS[2]));

  // A second passphrase, then the first replaced by a third: the first opens nothing.
  const add = await a.client("key", "add", pw1, `--new-${pw2.slice(2)}`, cheap);
  assert.equal(add.code, 0, add.stderr);
  const passwd = await a.client("key", "passwd", pw1, `--new-${pw3.slice(2)}`, cheap);
  assert.equal(passwd.code, 0, passwd.stderr);
  const keys = await a.client("key", "list", pw3, "--json");
  assert.equal(keys.code, 0, keys.stderr);
  const slots = JSON.parse(keys.stdout) as Array<{ id: string; current: boolean; kind: string }>;
  assert.equal(slots.length, 2);
  assert.deepEqual(slots.map((s) => s.kind), ["passphrase", "passphrase"]);
  assert.equal(slots.filter((s) => s.current).length, 1);
  const old = await a.client("snapshots", pw1);
  assert.equal(old.code, 1, old.stderr);

  // The slot in use is not removed without --force; the other one is.
  const current = slots.find((s) => s.current)!.id;
  const other = slots.find((s) => !s.current)!.id;
  const refused = await a.client("key", "remove", current.slice(0, 8), pw3);
  assert.equal(refused.code, 2, refused.stderr);
  const removed = await a.client("key", "remove", other.slice(0, 8), pw3);
  assert.equal(removed.code, 0, removed.stderr);
  const gone = await a.client("snapshots", pw2);
  assert.equal(gone.code, 1, gone.stderr);
  const last = await a.client("key", "remove", current.slice(0, 8), pw3, "--force");
  assert.notEqual(last.code, 0, "the last slot is never removed");
  assert.match(last.stderr, /only one/);

  // A second backup of the changed tree, then both snapshots restore byte for byte.
  await Deno.writeTextFile(`${src}/small.txt`, "changed\n");
  const second = await a.client("backup", src, "--host=h1", pw3);
  assert.equal(second.code, 0, second.stderr);
  const restored = `${a.w.dir}/restored`;
  const restore = await a.client("restore", "latest", `--target=${restored}`, "--host=h1", pw3);
  assert.equal(restore.code, 0, restore.stderr);
  await sameTree(src, `${restored}${src}`);
  const older = `${a.w.dir}/older`;
  const restoreOld = await a.client("restore", snapshot, `--target=${older}`, pw3);
  assert.equal(restoreOld.code, 0, restoreOld.stderr);
  assert.match(await Deno.readTextFile(`${older}${src}/small.txt`), /small/);

  const check = await a.client("check", "--read-data", pw3);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.deepEqual(await foundIn(a.server.root, SECRETS), []);
});

Deno.test("a key file opens an encrypted repository; the client refuses a plain one when given a secret", async () => {
  await using a = await accountWorkspace("backup-encrypted-keyfile-");
  const src = await sourceTree(a.w.dir);
  const keyFile = `--repository-key-file=${a.w.dir}/repo.key`;
  // A secret for a repository that has no key slot: no silent plain backup.
  const downgrade = await a.client("backup", src, "--host=h1", keyFile);
  assert.equal(downgrade.code, 2, downgrade.stderr);
  assert.match(downgrade.stderr, /not encrypted, but a passphrase or key file was given/);

  const init = await a.client("init", keyFile);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await Deno.stat(`${a.w.dir}/repo.key`)).mode! & 0o777, 0o600);
  const backup = await a.client("backup", src, "--host=h1", keyFile);
  assert.equal(backup.code, 0, backup.stderr);
  assert.deepEqual(await foundIn(a.server.root, SECRETS), []);
  const restored = `${a.w.dir}/restored`;
  const restore = await a.client("restore", "latest", `--target=${restored}`, "--host=h1", keyFile);
  assert.equal(restore.code, 0, restore.stderr);
  await sameTree(src, `${restored}${src}`);
});

Deno.test("init after a plain snapshot is refused by the server: a repository is never half encrypted", async () => {
  await using a = await accountWorkspace("backup-encrypted-late-");
  const src = await sourceTree(a.w.dir);
  const plain = await a.client("backup", src, "--host=h1");
  assert.equal(plain.code, 0, plain.stderr);
  // The search finds what a plain repository holds in clear (a file too small to compress).
  assert.ok((await foundIn(a.server.root, SECRETS)).some((hit) => hit.startsWith(SECRETS[1])));
  const init = await a.client("init", await passwordFile(a, "pw", "late"), "--kdf-cost=10");
  assert.equal(init.code, 1, init.stderr);
  assert.match(init.stderr, /forget them and prune first/);
  const still = await a.client("snapshots");
  assert.equal(still.code, 0, still.stderr);
});

Deno.test("a server that stops listing the key slots gets no plaintext: the client remembers the repository is encrypted", async () => {
  await using a = await accountWorkspace("backup-encrypted-downgrade-");
  const src = await sourceTree(a.w.dir);
  const pw = await passwordFile(a, "pw", "remembered");
  assert.equal((await a.client("init", pw, "--kdf-cost=10")).code, 0);
  const first = await a.client("backup", src, "--host=h1", pw);
  assert.equal(first.code, 0, first.stderr);
  // The server "forgets" the slots (as a hostile one would): a client run without the
  // passphrase (one that would type it on a terminal) is not turned into a plain backup.
  const db = new DatabaseSync(`${a.server.root}/${INDEX_FILE_NAME}`);
  try {
    db.prepare("DELETE FROM key_slots WHERE user_id = ?").run(ACCOUNT_ID);
  } finally {
    db.close();
  }
  const plain = await a.client("backup", src, "--host=h1");
  assert.equal(plain.code, 2, plain.stderr);
  assert.match(plain.stderr, /opened it encrypted before: nothing is sent in clear/);
  // A per-file backup while the repository's secret is configured is refused before anything is
  // sent; so is a fallback to it.
  const files = await a.client("backup", src, "--files", pw);
  assert.equal(files.code, 2, files.stderr);
  assert.match(files.stderr, /stores files one by one, in clear/);
  const listed = await a.client("list");
  assert.equal(listed.stdout.trim(), "");
  assert.deepEqual(await foundIn(a.server.root, SECRETS), []);
});

Deno.test("an encrypted account stores no file one by one: the server refuses, what was stored before stays", async () => {
  await using a = await accountWorkspace("backup-encrypted-files-");
  const src = await sourceTree(a.w.dir);
  const before = await a.client("backup", `${src}/small.txt`, "--files");
  assert.equal(before.code, 0, before.stderr);
  assert.equal(
    (await a.client("init", await passwordFile(a, "pw", "files"), "--kdf-cost=10")).code,
    0,
  );
  await Deno.writeTextFile(`${src}/later.txt`, `${SECRETS[1]} later\n`);
  // Another machine of the account (this one would refuse first: it remembers the repository
  // is encrypted), so that the server's own refusal is what is seen.
  await Deno.remove(`${a.w.dir}/config/backup-client/snapshots-seen.json`);
  const after = await a.client("backup", `${src}/later.txt`, "--files");
  assert.notEqual(after.code, 0, after.stdout);
  assert.match(after.stderr, /repository is encrypted: files stored one by one would be in clear/);
  assert.deepEqual(
    await foundIn(a.server.root, [`${SECRETS[1]} later`]),
    [],
    "the refused file's bytes are nowhere in the root",
  );
  const listed = await a.client("list");
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split("\n"), ["small.txt"]);
  const back = await a.client("restore", "small.txt", "-o", `${a.w.dir}/small-back.txt`);
  assert.equal(back.code, 0, back.stderr);
  assert.match(await Deno.readTextFile(`${a.w.dir}/small-back.txt`), /small/);
});

Deno.test("a server that claims no protocol v3 gets no file-by-file fallback from a client that opened the repository encrypted", async () => {
  // Plain TCP (on the loopback), so that a proxy can answer the Hello itself.
  await using w = await clientWorkspace("backup-encrypted-fallback-", { below: "work" });
  const usersFile = await keyedUsersFile(w, ACCOUNT_ID, { name: "o" });
  await using server = await startTestServer({ access: { usersFile } });
  const src = await sourceTree(w.dir);
  await Deno.writeTextFile(`${w.dir}/pw`, "fallback\n");
  const pw = `--password-file=${w.dir}/pw`;
  // Once hostile, the proxy answers a version 3 Hello as a version 1 server does (1003), which
  // makes a client that may fall back use version 2, file by file.
  let hostile = false;
  let v1Answers = 0;
  let relayed = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relays: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      relays.push(
        (async () => {
          const first = new Uint8Array(65536);
          const n = await conn.read(first);
          if (n === null) return conn.close();
          if (hostile && startsSessionV3(first.subarray(0, n))) {
            v1Answers++;
            await conn.write(Uint8Array.of(1, 0xeb, 0x03));
            return conn.close();
          }
          if (hostile) relayed++;
          const up = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
          await up.write(first.subarray(0, n));
          await Promise.allSettled([
            conn.readable.pipeTo(up.writable),
            up.readable.pipeTo(conn.writable),
          ]);
        })().catch(() => {}),
      );
    }
  })();
  try {
    const at = [`--server=127.0.0.1:${listener.addr.port}`, `--user=${ACCOUNT_ID}`];
    assert.equal((await w.client(...at, "init", pw, "--kdf-cost=10")).code, 0);
    const first = await w.client(...at, "backup", src, "--host=h1", pw);
    assert.equal(first.code, 0, first.stderr);
    hostile = true;
    // No secret given (one that would be typed): the client remembers the account is encrypted.
    const again = await w.client(...at, "backup", src); // no snapshot-only flag: may fall back
    assert.notEqual(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /backing up file by file/);
    assert.equal(v1Answers, 1);
    assert.equal(relayed, 0, "no version 2 connection followed");
    const files = await w.client(...at, "backup", src, "--files");
    assert.equal(files.code, 2, files.stderr);
    assert.match(files.stderr, /stores files one by one, in clear/);
    assert.equal(relayed, 0, "refused before connecting");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Promise.allSettled(relays);
  }
});

Deno.test("key list prints a hostile server's slot fields without their control characters", async () => {
  await using a = await accountWorkspace("backup-encrypted-escapes-");
  const pw = await passwordFile(a, "pw", "escapes");
  assert.equal((await a.client("init", pw, "--kdf-cost=10")).code, 0);
  // A slot the server made up, whose host and user would clear the screen and retitle it.
  const slot = await makeSlot(newMasterKey(), { passphrase: "whatever" }, {
    createdMs: 0,
    host: "\u001b[2J\u001b]0;owned\u0007",
    user: "\u009b31m",
    cost: { logN: 10, r: 8, p: 1 },
  });
  const db = new DatabaseSync(`${a.server.root}/${INDEX_FILE_NAME}`);
  try {
    db.prepare("INSERT INTO key_slots (user_id, slot_id, slot, added_ms) VALUES (?, ?, ?, 0)")
      .run(ACCOUNT_ID, readSlotInfo(slot).slotId, slot);
  } finally {
    db.close();
  }
  const list = await a.client("key", "list", pw);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /\\u\{1b\}\[2J/);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(list.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
});

Deno.test("two inits at once make one master key; a record sealed under another key is left out of lists, and forgotten by its id", async () => {
  await using a = await accountWorkspace("backup-encrypted-race-");
  const src = await sourceTree(a.w.dir);
  const pa = await passwordFile(a, "pa", "machine A");
  const pb = await passwordFile(a, "pb", "machine B");
  const inits = await Promise.all([
    a.client("init", pa, "--kdf-cost=10"),
    a.client("init", pb, "--kdf-cost=10"),
  ]);
  assert.deepEqual(inits.map((run) => run.code === 0).sort(), [false, true]);
  const [won, lost] = inits[0].code === 0 ? [pa, inits[1]] : [pb, inits[0]];
  assert.match(lost.stderr, /encrypted already/);
  const backup = await a.client("backup", src, "--host=h1", won);
  assert.equal(backup.code, 0, backup.stderr);
  const listed = await a.client("snapshots", "--json", won);
  const [real] = JSON.parse(listed.stdout) as Array<{ id: string; tree: string }>;

  // Anyone with the account's key but not the repository's commits a record sealed otherwise.
  const session = await SessionV3.connect({
    hostname: "127.0.0.1",
    port: a.server.port,
    tls: true,
    caCerts: [await Deno.readTextFile(TLS.certFile)],
    userId: ACCOUNT_ID,
    key: await loadKey(`${a.w.dir}/config/backup-client/key`),
  });
  let junk: string;
  try {
    session.useCodec(new SealedCodec(newMasterKey()));
    const record = new TextEncoder().encode('{"junk":true}');
    const commit = await session.commitSnapshot(record, real.tree);
    assert.ok(commit.committed);
    junk = commit.id;
  } finally {
    await session.close();
  }
  const after = await a.client("snapshots", "--json", won);
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual((JSON.parse(after.stdout) as Array<{ id: string }>).map((s) => s.id), [real.id]);
  assert.match(after.stderr, new RegExp(`left out; forget ${junk} removes it`));
  const forget = await a.client("forget", junk, won);
  assert.equal(forget.code, 0, forget.stderr);
  const clean = await a.client("snapshots", won);
  assert.equal(clean.code, 0, clean.stderr);
  assert.doesNotMatch(clean.stderr, /left out/);
});
