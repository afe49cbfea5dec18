/**
 * One user's many costly lists take turns: with two dozen connections repeating a list at a past
 * time over many deleted long names, another account's requests are still answered promptly.
 */
import assert from "node:assert/strict";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { addIndexRows } from "./_index_rows.ts";
import { spawnServer } from "./_processes.ts";
import { ListTurns } from "../server/list_turns.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { makeKey, usersFileText } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DELETED = 60_000;
const ATTACKERS = 24;
const ATTACK_MS = 6_000;
/** An hour ago: recent enough that the server's pruning (30 days kept) leaves it all. */
const BASE_MS = Date.now() - 3_600_000;

/** Deleted 1,000-byte names, none there 5 s after BASE_MS. */
function* deletedNames() {
  for (let i = 0; i < DELETED; i++) {
    const name = `gone/${String(i).padStart(7, "0")}/${"x".repeat(980)}`;
    yield { userId: 1, name, storedMs: BASE_MS + 1000, endedMs: BASE_MS + 2000, deleted: true };
  }
}

Deno.test("two dozen costly lists of one user leave another account answered within a second", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-list-turns-" });
  const etc = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  try {
    addIndexRows(root, deletedNames());
    const [attacker, other] = [await makeKey(), await makeKey()];
    const usersFile = `${etc}/users.json`;
    await Deno.writeTextFile(
      usersFile,
      usersFileText([{ id: 1, keys: [attacker] }, { id: 2, keys: [other] }]),
    );
    await using server = await spawnServer(
      ["--root", root, "--port", "0", "--users", usersFile],
      { denoFlags: ["--allow-all"] },
    );
    const connect = (userId: number, key: typeof attacker) =>
      BackupClientV2.connect({ userId, key, hostname: "127.0.0.1", port: server.port });
    const attackers = await Promise.all(
      Array.from({ length: ATTACKERS }, () => connect(1, attacker)),
    );
    const probe = await connect(2, other);
    try {
      const until = performance.now() + ATTACK_MS;
      let lists = 0;
      const attacking = attackers.map(async (client) => {
        while (performance.now() < until) {
          for await (const _ of client.entries({ atMs: BASE_MS + 5000 })) {
            // nothing was there then
          }
          lists++;
        }
      });
      let worst = 0;
      let answered = 0;
      while (performance.now() < until) {
        const started = performance.now();
        assert.deepEqual(await probe.list(), []);
        worst = Math.max(worst, performance.now() - started);
        answered++;
      }
      await Promise.all(attacking);
      assert.ok(lists >= ATTACKERS, `the attack ran (${lists} lists)`);
      assert.ok(
        worst < 1000,
        `another account waited ${worst.toFixed(0)} ms (${answered} answers)`,
      );
    } finally {
      for (const client of [...attackers, probe]) client.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(etc, { recursive: true });
  }
});

Deno.test("a list waiting for its turn leaves the line when its connection closes, and the turn is not lost", async () => {
  const turns = new ListTurns(1);
  const first = await turns.take(7);
  const closing = new AbortController();
  const waiting = turns.take(7, closing.signal);
  closing.abort();
  await assert.rejects(waiting, ConnectionLostError);
  first[Symbol.dispose]();
  // The line is empty: the next list of user 7 runs at once, and only one at a time.
  const next = await turns.take(7);
  let third = false;
  const after = turns.take(7).then((turn) => (third = true, turn));
  await Promise.resolve();
  assert.equal(third, false);
  next[Symbol.dispose]();
  (await after)[Symbol.dispose]();
  assert.equal(third, true);
  const closed = new AbortController();
  closed.abort();
  await assert.rejects(turns.take(7, closed.signal), ConnectionLostError);
});
