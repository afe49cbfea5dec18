/**
 * `forget --prune` and `prune` from the client's command line against a real server (TLS, an
 * account, the embedded store): two snapshots of distinct random files; forgetting one with
 * `--prune` drops the account's usage by about that file's size at once (the server's own usage,
 * and the "freed N bytes" printed), and the other snapshot restores byte for byte. An append-only
 * account's prune is refused and frees nothing.
 */
import assert from "node:assert/strict";
import { jsonLines } from "./_processes.ts";
import { ACCOUNT_ID, type AccountWorkspace, accountWorkspace } from "./_cli_account.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const FILE_BYTES = 300 * 1024;

/** A folder holding one file of random bytes, backed up as one snapshot; its id and bytes. */
async function snapshotOfRandom(a: AccountWorkspace, name: string) {
  const dir = `${a.w.dir}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  const bytes = new Uint8Array(FILE_BYTES);
  for (let at = 0; at < bytes.length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(`${dir}/data.bin`, bytes);
  const backup = await a.client("backup", dir, "--host=h1", "--json");
  assert.equal(backup.code, 0, backup.stderr);
  const id = String(jsonLines(backup.stdout).find((l) => l.op === "backup" && l.ok)!.snapshot);
  return { dir, bytes, id };
}

function usage(a: AccountWorkspace): Promise<number> {
  return a.server.server.storage.usage(ACCOUNT_ID);
}

async function setAppendOnly(a: AccountWorkspace, appendOnly: boolean): Promise<void> {
  const usersFile = `${a.w.dir}/users.json`;
  const users = JSON.parse(await Deno.readTextFile(usersFile));
  users.users[0].appendOnly = appendOnly;
  await Deno.writeTextFile(usersFile, JSON.stringify(users));
  assert.deepEqual((await a.server.server.reload()).errors, []);
}

Deno.test("forget --prune frees the forgotten snapshot's file at once; the other restores byte for byte", async () => {
  await using a = await accountWorkspace("snapprune-");
  const gone = await snapshotOfRandom(a, "gone");
  const kept = await snapshotOfRandom(a, "kept");
  const before = await usage(a);
  assert.ok(before > 2 * FILE_BYTES, `usage ${before}`);

  const forget = await a.client("forget", gone.id, "--prune");
  assert.equal(forget.code, 0, forget.stderr);
  const freed = Number(/^freed (\d+) bytes/m.exec(forget.stdout)?.[1]);
  assert.ok(freed >= FILE_BYTES, `freed ${freed}: ${forget.stdout}`);
  const after = await usage(a);
  const dropped = before - after;
  assert.ok(dropped >= FILE_BYTES, `usage dropped by ${dropped}`);
  assert.ok(dropped < FILE_BYTES + 16 * 1024, `usage dropped by ${dropped}, more than one file`);
  assert.ok(
    freed <= dropped,
    "the answer counts what the prune freed (the forget freed its record)",
  );

  const snapshots = JSON.parse((await a.client("snapshots", "--json")).stdout);
  assert.deepEqual((snapshots as Array<{ id: string }>).map((s) => s.id), [kept.id]);
  const target = `${a.w.dir}/restored`;
  const restore = await a.client("restore", `${kept.id}:${kept.dir}`, "--target", target);
  assert.equal(restore.code, 0, restore.stderr);
  assert.deepEqual(await Deno.readFile(`${target}/data.bin`), kept.bytes);

  // Nothing left to free: a second prune frees nothing and says so.
  const again = await a.client("prune", "--json");
  assert.equal(again.code, 0, again.stderr);
  const line = jsonLines(again.stdout).find((l) => l.op === "prune")!;
  assert.equal(line.bytesFreed, 0);
  assert.equal(await usage(a), after);
});

Deno.test("an append-only account's prune is refused and frees nothing; once allowed it frees", async () => {
  await using a = await accountWorkspace("snapprune-");
  const gone = await snapshotOfRandom(a, "gone");
  await snapshotOfRandom(a, "kept");
  const forget = await a.client("forget", gone.id);
  assert.equal(forget.code, 0, forget.stderr);
  const withGarbage = await usage(a);

  await setAppendOnly(a, true);
  const refused = await a.client("prune");
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /append-only/);
  const forgetPrune = await a.client("forget", "latest", "--host=h1", "--prune");
  assert.notEqual(forgetPrune.code, 0);
  assert.match(forgetPrune.stderr, /append-only/);
  assert.equal(await usage(a), withGarbage, "nothing pruned");

  await setAppendOnly(a, false);
  const prune = await a.client("prune");
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /^freed \d+ bytes \(.*\), \d+ packs? removed$/m);
  assert.ok(withGarbage - await usage(a) >= FILE_BYTES);
});
