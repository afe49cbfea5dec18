/** The spool of a version 1 list: pages in order, through a scratch file or, without one, memory. */
import assert from "node:assert/strict";
import { LimitExceededError } from "../storage/storage.ts";
import { ScratchBudget, type ScratchFile, Spool } from "../storage/embedded/spool.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const page = (n: number) => new Uint8Array(1000).fill(n);

async function scratchIn(dir: string): Promise<ScratchFile> {
  const path = `${dir}/scratch`;
  const writer = await Deno.open(path, { write: true, createNew: true });
  const reader = await Deno.open(path, { read: true });
  await Deno.remove(path);
  return { writer, reader };
}

async function readAll(spool: Spool): Promise<number[]> {
  const bytes: number[] = [];
  for await (const chunk of spool.pages()) bytes.push(...chunk);
  return bytes;
}

Deno.test("a spool with a scratch file takes every page at once and gives them back in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = new Spool(await scratchIn(dir));
    for (let n = 0; n < 20; n++) await spool.append(page(n)); // never waits for a reader
    spool.end();
    const bytes = await readAll(spool);
    assert.equal(bytes.length, 20_000);
    for (let n = 0; n < 20; n++) assert.equal(bytes[n * 1000], n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a scratch file, a few pages wait in memory and the producer waits for the reader", async () => {
  const spool = new Spool(undefined);
  let appended = 0;
  const producing = (async () => {
    for (let n = 0; n < 12; n++) {
      await spool.append(page(n));
      appended++;
    }
    spool.end();
  })();
  // Let the producer run as far as it can before anything is read.
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(appended, 4, "four pages held, the fifth waits");
  const bytes = await readAll(spool);
  await producing;
  assert.equal(bytes.length, 12_000);
  for (let n = 0; n < 12; n++) assert.equal(bytes[n * 1000], n);
});

Deno.test("a spool closed by its reader stops its producer and throws a producer's failure", async () => {
  const spool = new Spool(undefined);
  await spool.append(page(1));
  const pages = spool.pages();
  assert.equal((await pages.next()).value?.[0], 1);
  await pages.return(undefined);
  assert.equal(spool.closed, true);
  await spool.append(page(2)); // dropped, never waits

  const failing = new Spool(undefined);
  failing.end(new Error("index unreadable"));
  await assert.rejects(readAll(failing), /index unreadable/);
});

Deno.test("a spool past the server's scratch budget goes to memory and gives its bytes back when disposed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const budget = new ScratchBudget(2500);
    const first = new Spool(await scratchIn(dir), budget);
    for (let n = 0; n < 2; n++) await first.append(page(n)); // 2,000 bytes: on disk
    assert.equal(first.onDisk, true);
    assert.equal(budget.used, 2000);

    const second = new Spool(await scratchIn(dir), budget);
    let appended = 0;
    const producing = (async () => {
      for (let n = 0; n < 8; n++) {
        await second.append(page(n));
        appended++;
      }
      second.end();
    })();
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(
      second.onDisk,
      false,
      "the second page would pass the budget: memory from there on",
    );
    assert.equal(budget.used, 2000, "nothing more taken");
    assert.equal(appended, 4, "four pages held in memory, the fifth waits for the reader");

    first[Symbol.dispose]();
    assert.equal(budget.used, 0, "the first spool gave its bytes back");
    const bytes = await readAll(second); // still in memory mode, in order, whole
    await producing;
    assert.equal(bytes.length, 8000);
    for (let n = 0; n < 8; n++) assert.equal(bytes[n * 1000], n);
    assert.equal(second.onDisk, false);
    assert.equal(budget.used, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pages in memory wait for their reader a bounded time: the index's snapshot is not held for a slow client", async () => {
  const unread = new Spool(undefined, new ScratchBudget(0), 30);
  for (let n = 0; n < 4; n++) await unread.append(page(n));
  await assert.rejects(unread.append(page(4)), LimitExceededError);
  unread[Symbol.dispose]();

  // A reader that keeps up gets the whole list within the limit.
  const read = new Spool(undefined, new ScratchBudget(0), 5_000);
  const producing = (async () => {
    for (let n = 0; n < 40; n++) await read.append(page(n));
    read.end();
  })();
  const bytes = await readAll(read);
  await producing;
  assert.equal(bytes.length, 40_000);
});
