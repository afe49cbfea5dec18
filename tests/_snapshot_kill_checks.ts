/**
 * The checks the snapshot kill tests make, over any server process (the embedded engine's,
 * `snapshot_kill_test.ts`; S3's, `s3/snapshot_kill_test.ts`): where to kill, that the kill took,
 * that every snapshot listed restores byte for byte, and that a run sent nothing twice.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  diffR,
  jsonLines,
  type KillWorkspace,
  type LineProcess,
  type LoggedPut,
  putsIn,
  type ServerProc,
} from "./_snapshot_kill.ts";

/** Trees a run sends (compressed, about 25 KiB here), allowed for each run on top of the data. */
export const TREE_SLACK = 64 * 1024;

export const sum = (puts: LoggedPut[]): number => puts.reduce((total, put) => total + put.bytes, 0);
export const acked = (puts: LoggedPut[]): LoggedPut[] => puts.filter((put) => put.status === 231);

/** A server log line `match` or the client's end, whichever comes first; fails on the latter. */
export async function killPoint(
  server: LineProcess,
  client: LineProcess,
  match: (line: Record<string, unknown>) => boolean,
  from: number,
  what: string,
): Promise<void> {
  const reached = await Promise.race([
    server.waitFor(match, from).then((line) => line !== undefined),
    client.ended.then(() => false),
  ]);
  const ended = client.lines.find((line) => line.ok === true);
  assert.ok(reached, `the client ended before ${what}: ${ended ? "it made a snapshot" : ""}`);
}

/** Kills the client; it must have died of it, not finished. */
export async function killClient(client: LineProcess): Promise<void> {
  const { status } = await client.kill();
  assert.equal(status.signal, "SIGKILL", "the client was still running");
  assert.ok(!client.lines.some((line) => line.ok === true), "no snapshot was reported");
}

/** The snapshots listed; each one restores byte for byte. Resolves their ids. */
export async function wholeSnapshots(k: KillWorkspace, server: ServerProc): Promise<string[]> {
  const list = await k.client(server, "snapshots", "--json");
  assert.equal(list.code, 0, list.stderr);
  const ids: string[] = JSON.parse(list.stdout).map((entry: { id: string }) => entry.id);
  for (const id of ids) {
    const target = `${k.w.dir}/restored-${id.slice(0, 8)}`;
    const restore = await k.client(server, "restore", `${id}:${k.src}`, "--target", target);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(await diffR(k.src, target), { code: 0, out: "" }, `snapshot ${id}`);
    await Deno.remove(target, { recursive: true });
  }
  return ids;
}

/** A backup run to its end; resolves its result line and the blobs it put. */
export async function completeRun(
  k: KillWorkspace,
  server: ServerProc,
): Promise<{ result: Record<string, unknown>; puts: LoggedPut[] }> {
  const from = server.lines.length;
  const run = await k.client(server, "backup", k.src, "--host=h", "--json");
  assert.equal(run.code, 0, run.stderr);
  const result = jsonLines(run.stdout).find((line) => line.op === "backup" && line.ok)!;
  assert.ok(result, run.stdout);
  // The run's last answer was logged before the client read it: every put is in the log now.
  const puts = putsIn(server.lines, from);
  assert.ok(puts.every((put) => put.status === 231), "every blob of the run was taken");
  return { result, puts };
}

/** No blob of `puts` is in `had`, and none is put twice. */
export function assertNoResend(had: Set<string>, puts: LoggedPut[]): void {
  const again = puts.filter((put) => had.has(put.id));
  assert.deepEqual(again.map((put) => put.id), [], `${again.length} blob(s) the server had`);
  assert.equal(new Set(puts.map((put) => put.id)).size, puts.length, "a blob put twice in a run");
}
