/**
 * A server's tombstone view (storage/s3/doom_view.ts, rule W1), with a clock moved by hand: R/4 is
 * 250 "ms" here, G/2 is 5,000.
 */
import assert from "node:assert/strict";
import { S3Error } from "../objects/s3/s3_client.ts";
import { encodeTombstone } from "../storage/s3/gc_objects.ts";
import { DoomView, DoomViewStaleError } from "../storage/s3/doom_view.ts";
import { latch, ManualClock, MemoryBucket, settle } from "./_gc_fakes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const QUARTER_R = 250;
const HALF_G = 5000;

function setUp() {
  const clock = new ManualClock();
  const bucket = new MemoryBucket(clock);
  const doomed: string[][] = [];
  let drops = 0;
  const errors: unknown[] = [];
  const view = new DoomView({
    client: bucket,
    prefix: "s/",
    maxAgeMs: QUARTER_R,
    refreshMs: 200,
    dropAfterMs: HALF_G,
    clock,
    onDoomed: (packs) => doomed.push([...packs]),
    onStale: () => drops++,
    onError: (error) => errors.push(error),
  });
  const plant = (run: string, packs: string[]) =>
    bucket.objects.set(`s/g/doomed/${run}`, { body: encodeTombstone(packs), lastModifiedMs: 0 });
  return { clock, bucket, view, doomed, drops: () => drops, errors, plant };
}

Deno.test("doom view: a fresh view answers at once; one older than R/4 makes the decision wait for a refresh", async () => {
  const { clock, bucket, view, doomed, plant } = setUp();
  plant("run1", ["p/7/a.1", "p/7/b.2"]);
  await view.ready();
  assert.deepEqual(
    doomed,
    [["p/7/a.1", "p/7/b.2"]],
    "the caches were told before the view is used",
  );
  assert.ok(view.isDoomed("p/7/a.1") && !view.isDoomed("p/7/c.3"));
  await clock.advance(QUARTER_R);
  const lists = bucket.callsOf("LIST").length;
  await view.ready();
  assert.equal(bucket.callsOf("LIST").length, lists, "R/4 old: no request");
  // Older than R/4, and the store holds the LIST: the decision waits for it.
  plant("run2", ["p/7/c.3"]);
  const held = latch();
  bucket.gate = (call) => call.method === "LIST" ? held.promise : undefined;
  await clock.advance(1);
  assert.equal(view.fresh, false, "a synchronous check counts a miss");
  let ready = false;
  const waiting = view.ready().then(() => ready = true);
  await settle();
  assert.equal(ready, false, "waits");
  held.release();
  await waiting;
  assert.ok(view.isDoomed("p/7/c.3"), "the new tombstone is in the view it waited for");
  assert.equal(view.fresh, true);
  assert.deepEqual(doomed.at(-1), ["p/7/c.3"]);
});

Deno.test("doom view: a view that cannot be refreshed refuses decisions (the upload stores the chunk)", async () => {
  const { clock, bucket, view } = setUp();
  await view.ready();
  bucket.gate = (call) => call.method === "LIST" ? new S3Error(503, "SlowDown", "503") : undefined;
  await clock.advance(QUARTER_R + 1);
  await assert.rejects(view.ready(), DoomViewStaleError);
});

Deno.test("doom view: refreshed in the background, each tombstone read once, forgotten once deleted", async () => {
  const { clock, bucket, view, plant, errors } = setUp();
  plant("run1", ["p/7/a.1"]);
  view.start();
  await settle();
  for (let i = 0; i < 5; i++) await clock.advance(200);
  assert.equal(bucket.callsOf("LIST").length, 6, "at start, then every refreshMs");
  assert.equal(bucket.callsOf("GET").length, 1, "a tombstone is immutable: read once");
  const lists = bucket.callsOf("LIST").length;
  await view.ready();
  assert.equal(bucket.callsOf("LIST").length, lists, "decisions did not wait");
  bucket.objects.delete("s/g/doomed/run1"); // step 7 of a GC run
  await clock.advance(200);
  assert.equal(view.isDoomed("p/7/a.1"), false);
  await view.close();
  assert.deepEqual(errors, []);
});

Deno.test("doom view: a gap longer than G/2 (asleep, or cut off) drops every cache before the next view is used", async () => {
  const { clock, bucket, view, drops, plant } = setUp();
  await view.ready();
  // A GC run dooms and sweeps while this server sleeps: its tombstone comes and goes unseen.
  plant("run1", ["p/7/a.1"]);
  clock.suspend(HALF_G + 1);
  bucket.objects.delete("s/g/doomed/run1");
  let droppedBeforeReady = -1;
  await view.ready().then(() => droppedBeforeReady = drops());
  assert.equal(droppedBeforeReady, 1, "caches dropped once, before the decision");
  await clock.advance(QUARTER_R + 1);
  await view.ready();
  assert.equal(drops(), 1, "not again once refreshed");
});

Deno.test("doom view: a gap of failed refreshes longer than G/2 drops the caches too", async () => {
  const { clock, bucket, view, drops } = setUp();
  await view.ready();
  view.start();
  bucket.gate = (call) => call.method === "LIST" ? new S3Error(0, "", "no answer") : undefined;
  for (let t = 200; t < HALF_G; t += 200) await clock.advance(200);
  assert.equal(drops(), 0, "not yet: G/2 has not passed");
  await clock.advance(400);
  assert.equal(drops(), 1, "dropped once, even while refreshes keep failing");
  bucket.gate = () => undefined;
  await clock.advance(200);
  await view.ready();
  assert.equal(drops(), 1);
  await view.close();
});

Deno.test("doom view: a corrupt tombstone fails the refresh rather than being guessed at", async () => {
  const { clock, bucket, view } = setUp();
  bucket.objects.set("s/g/doomed/bad", { body: new TextEncoder().encode("{"), lastModifiedMs: 0 });
  await assert.rejects(view.ready(), DoomViewStaleError);
  await clock.advance(1);
});
