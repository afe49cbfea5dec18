/** The rollback watch's rules, without a server (the end-to-end case: snapshot_rollback_test.ts). */
import assert from "node:assert/strict";
import { RollbackWatch } from "../client/snapshot/rollback_watch.ts";

const id = (c: string) => c.repeat(64);

Deno.test("after this client forgets its newest, the host is still watched from the next list", () => {
  const warnings: string[] = [];
  const watch = new RollbackWatch({}, (text) => warnings.push(text));
  watch.committed("h", id("1"));
  watch.committed("h", id("2"));
  watch.forgot(id("2"));
  watch.listed([{ id: id("1"), host: "h" }, { id: id("9"), host: "other" }]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(watch.remembered(), { h: { id: id("1") } });
  // The server then loses the rest: said once, naming what is gone.
  watch.listed([]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /no longer lists snapshot 11111111 of host h/);
  watch.listed([]);
  assert.equal(warnings.length, 1);
});

Deno.test("a forgotten host's watch survives between runs, and a newer snapshot listed is taken", () => {
  const first = new RollbackWatch({ h: { id: id("1") } }, () => {});
  first.forgot(id("1"));
  assert.ok(first.changed);
  const warnings: string[] = [];
  const next = new RollbackWatch(first.remembered(), (text) => warnings.push(text));
  next.listed([]);
  assert.deepEqual(warnings, []);
  next.listed([{ id: id("3"), host: "h" }, { id: id("4"), host: "h" }]);
  assert.deepEqual(next.remembered(), { h: { id: id("4") } });
  assert.deepEqual(warnings, []);
});
