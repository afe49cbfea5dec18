/**
 * Lists at a past time and lists of versions do bounded work per turn of the event loop: over
 * 100,000 deleted names and a name with 40,000 versions, clients that repeat them do not stall the
 * server for everyone else.
 */
import assert from "node:assert/strict";
import { addIndexRows, type IndexRow } from "./_index_rows.ts";
import { makeKey, startV2Server } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const DELETED = 100_000;
const ALIVE = 20;
const HISTORY = 40_000;
/** An hour ago: recent enough that the server's pruning (30 days kept) leaves it all. */
const BASE_MS = Date.now() - 3_600_000;
const AT_MS = BASE_MS + 5_000;

/** The versions of user 1: quicker straight into the index than 140,000 uploads. */
function* versions(): Generator<IndexRow> {
  const at = (ms: number) => BASE_MS + ms;
  // Stored at 1 s, deleted at 2 s: none of them was there at 5 s.
  for (let i = 0; i < DELETED; i++) {
    const name = `gone/${String(i).padStart(7, "0")}`;
    yield { userId: 1, name, storedMs: at(1000), endedMs: at(2000), deleted: true };
  }
  for (let i = 0; i < ALIVE; i++) {
    yield { userId: 1, name: `kept/${String(i).padStart(3, "0")}`, storedMs: at(1000) };
  }
  // One name replaced every millisecond from 1 s on: the version current at 5 s is the 4,001st.
  for (let i = 0; i < HISTORY; i++) {
    const endedMs = i === HISTORY - 1 ? undefined : at(1001 + i);
    yield { userId: 1, name: "long", storedMs: at(1000 + i), endedMs };
  }
}

/** The longest gap between two runs of a 5 ms interval timer, while `work` runs. */
async function worstLag(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(worst, performance.now() - last); // work that never yielded counts whole
}

Deno.test("lists at a time over 100,000 deleted names, and versions of a long history, do not stall the server", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-list-at-" });
  try {
    addIndexRows(root, versions());
    const key = await makeKey();
    await using t = await startV2Server([{ id: 1, keys: [key] }], { root });
    const clients = await Promise.all(Array.from({ length: 4 }, () => t.connect(1, key)));
    try {
      const listed: string[][] = [];
      const histories: number[] = [];
      const listAtTime = async (client: (typeof clients)[number]) => {
        const names = [];
        for await (const entry of client.entries({ atMs: AT_MS })) names.push(entry.name);
        listed.push(names);
      };
      // Straight from the server's storage: a client in this process parsing 40,000 entries
      // would hold this event loop itself, hiding what the server does.
      const listVersions = async () => {
        using versions = await t.server.storage.versions(1, "long");
        let count = 0;
        for await (const page of versions.pages) count += page.length;
        histories.push(count);
      };
      const lag = await worstLag(async () => {
        await Promise.all([
          ...clients.map(async (client) => {
            for (let round = 0; round < 3; round++) await listAtTime(client);
          }),
          ...[1, 2].map(async () => {
            for (let round = 0; round < 3; round++) await listVersions();
          }),
        ]);
      });
      const expected = [
        ...Array.from({ length: ALIVE }, (_, i) => `kept/${String(i).padStart(3, "0")}`),
        "long",
      ];
      assert.equal(listed.length, 12);
      for (const names of listed) assert.deepEqual(names, expected);
      assert.deepEqual(histories, Array(6).fill(HISTORY));
      // One list at a time over all of them held the event loop ~0.3 s and more before (1,198 ms
      // worst on fcbb332); now each turn is a page (1,024 names looked at) per list in progress,
      // ~100 ms worst on a loaded machine: the bound leaves room for a noisy one.
      assert.ok(lag < 300, `the event loop stalled for ${lag.toFixed(0)} ms`);
    } finally {
      for (const client of clients) client.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
