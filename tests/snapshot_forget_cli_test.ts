/**
 * `forget` on the client's command line, as subprocesses against a real server (TLS, an account
 * with the workspace's key): snapshots made at known times (`backup --time`), a policy applied
 * (dry run first, then for real), `snapshots --json` listing exactly the kept ones; forget by id;
 * `--prune` and an empty policy refused; an append-only account refused with nothing forgotten.
 */
import assert from "node:assert/strict";
import { ACCOUNT_ID, type AccountWorkspace, accountWorkspace } from "./_cli_account.ts";
import { clientWorkspace } from "./_processes.ts";
import { startTestServer } from "./_helpers.ts";
import { TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

type Client = AccountWorkspace["client"];

/** Backs up `src` once per `[time, host]`; resolves the snapshot ids by time. */
async function backups(
  client: Client,
  src: string,
  times: [string, string][],
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const [time, host] of times) {
    await Deno.writeTextFile(`${src}/note.txt`, `made at ${time}\n`);
    const run = await client("backup", src, `--host=${host}`, `--time=${time}`, "--json");
    assert.equal(run.code, 0, run.stderr);
    const line = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
      .find((l) => l.op === "backup" && l.ok);
    ids.set(time, String(line.snapshot));
  }
  return ids;
}

async function listed(client: Client): Promise<string[]> {
  const list = await client("snapshots", "--json");
  assert.equal(list.code, 0, list.stderr);
  return (JSON.parse(list.stdout) as { time: string }[]).map((s) => s.time).sort();
}

const H1 = [
  "2026-01-10T10:00:00.000Z",
  "2026-02-10T10:00:00.000Z",
  "2026-03-01T08:00:00.000Z",
  "2026-03-01T09:00:00.000Z",
  "2026-03-02T10:00:00.000Z",
  "2026-03-03T10:00:00.000Z",
];
const H2 = "2026-01-01T00:00:00.000Z";

Deno.test("forget --keep-daily 2 --keep-monthly 2: the dry run changes nothing, then exactly the kept ones stay", async () => {
  await using a = await accountWorkspace("forgetcli-");
  a.w.options.env!.TZ = "UTC"; // the calendar buckets are the local zone's, as restic's
  const src = `${a.w.dir}/src`;
  await Deno.mkdir(src);
  const ids = await backups(a.client, src, [...H1.map((t): [string, string] => [t, "h1"]), [
    H2,
    "h2",
  ]]);
  const all = [...H1, H2].sort();
  const policy = ["--keep-daily", "2", "--keep-monthly", "2"];

  const dry = await a.client("forget", ...policy, "--dry-run", "--json");
  assert.equal(dry.code, 0, dry.stderr);
  const groups = JSON.parse(dry.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(groups.map((g: { host: string }) => g.host), ["h1", "h2"]);
  assert.deepEqual(groups[0].paths, [src]);
  assert.deepEqual(groups[0].keep.map((s: { time: string }) => s.time), [H1[5], H1[4], H1[1]]);
  assert.deepEqual(groups[0].remove.map((s: { time: string }) => s.time), [H1[3], H1[2], H1[0]]);
  assert.deepEqual(groups[0].reasons[0].matches, ["daily snapshot", "monthly snapshot"]);
  assert.deepEqual(groups[0].reasons[0].counters, { daily: 1, monthly: 1 });
  assert.deepEqual(groups[1].keep.map((s: { id: string }) => s.id), [ids.get(H2)]);
  assert.deepEqual(await listed(a.client), all, "a dry run forgets nothing");

  const run = await a.client("forget", ...policy);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /snapshots for \(host \[h1\], paths \[.*\/src\]\):\nkeep 3 snapshots:/);
  assert.match(run.stdout, /^ID +Time +Host +Tags +Reasons +Paths$/m);
  assert.match(run.stdout, /remove 3 snapshots:/);
  assert.match(run.stderr, /3 snapshots removed/);
  assert.deepEqual(await listed(a.client), [H2, H1[1], H1[4], H1[5]].sort());

  // Again: nothing more to remove.
  const again = await a.client("forget", ...policy);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await listed(a.client), [H2, H1[1], H1[4], H1[5]].sort());

  // By id (a prefix), as restic's `forget ID`.
  const byId = await a.client("forget", ids.get(H1[1])!.slice(0, 10));
  assert.equal(byId.code, 0, byId.stderr);
  assert.deepEqual(await listed(a.client), [H2, H1[4], H1[5]].sort());
});

Deno.test("forget refuses an empty policy, names with a policy, bad values: nothing forgotten", async () => {
  await using a = await accountWorkspace("forgetcli-");
  const src = `${a.w.dir}/src`;
  await Deno.mkdir(src);
  await backups(a.client, src, [[H1[0], "h1"], [H1[1], "h1"]]);
  const cases: [string[], RegExp][] = [
    [[], /no policy was specified/],
    [["latest", "--keep-last", "1"], /snapshot names or --keep-\* flags, not both/],
    [["--keep-last=-1"], /--keep-last must be a whole number/],
    [["--keep-within", "3w"], /not a duration like 1y5m7d2h/],
    [["--keep-last", "1", "--group-by", "user"], /unknown grouping option "user"/],
  ];
  for (const [args, message] of cases) {
    const run = await a.client("forget", ...args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
  const other = await a.client("snapshots", "--keep-last", "1");
  assert.equal(other.code, 2);
  assert.match(other.stderr, /--keep-last goes with forget/);
  assert.deepEqual(await listed(a.client), [H1[0], H1[1]]);
});

Deno.test("an append-only account: forget is refused with a clear message and nothing is forgotten", async () => {
  await using w = await clientWorkspace("forgetcli-ao-", { below: "work" });
  const keygen = await w.client("keygen");
  assert.equal(keygen.code, 0, keygen.stderr);
  const usersFile = `${w.dir}/users.json`;
  await Deno.writeTextFile(
    usersFile,
    JSON.stringify({
      users: [{ id: ACCOUNT_ID, name: "logs", keys: [keygen.stdout.trim()], appendOnly: true }],
    }),
  );
  await using server = await startTestServer({ tls: TLS, access: { usersFile } });
  const client: Client = (...args) =>
    w.client(
      `--server=127.0.0.1:${server.port}`,
      `--user=${ACCOUNT_ID}`,
      `--ca=${TLS.certFile}`,
      ...args,
    );
  const src = `${w.dir}/src`;
  await Deno.mkdir(src);
  const ids = await backups(client, src, [[H1[0], "h1"], [H1[1], "h1"]]);

  const dry = await client("forget", "--keep-last", "1", "--dry-run");
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /Would have removed/);

  for (const args of [["--keep-last", "1"], [ids.get(H1[0])!]]) {
    const run = await client("forget", ...args);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /append-only: the server refuses to forget snapshots/);
    assert.match(run.stderr, /nothing was forgotten/);
  }
  assert.deepEqual(await listed(client), [H1[0], H1[1]]);
});
