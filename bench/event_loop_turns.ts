/**
 * `deno run -A bench/event_loop_turns.ts`: what one turn of the event loop costs by each way of
 * yielding, and whether a socket's data gets in between busy 1 ms pages yielding that way (the
 * figures behind `TurnTaker` in storage/embedded/listing.ts; docs/storage.md).
 *
 * @module
 */
import { setImmediate } from "node:timers";

const ways: Record<string, () => Promise<void>> = {
  "setTimeout(0)": () => new Promise((resolve) => setTimeout(resolve, 0)),
  "setImmediate": () => new Promise((resolve) => setImmediate(resolve)),
  "microtask": () => Promise.resolve(),
};

/** Milliseconds per turn, over `count` turns in a row. */
async function costOf(turn: () => Promise<void>, count = 1000): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await turn();
  return (performance.now() - start) / count;
}

/** Pings another connection answers while 1 ms pages run for `ms`, each followed by `turn`. */
async function pingsBetweenPages(turn: () => Promise<void>, ms = 300): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    const served = await listener.accept();
    const byte = new Uint8Array(1);
    while (await served.read(byte) !== null) await served.write(byte);
    served.close();
  })();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  let pings = 0;
  let stop = false;
  const pinging = (async () => {
    const byte = new Uint8Array(1);
    while (!stop) {
      await conn.write(byte);
      await conn.read(byte);
      pings++;
    }
  })();
  const start = performance.now();
  while (performance.now() - start < ms) {
    const page = performance.now();
    while (performance.now() - page < 1) {
      // a page's work
    }
    await turn();
  }
  stop = true;
  await pinging;
  conn.close();
  listener.close();
  await echo;
  return pings;
}

for (const [name, turn] of Object.entries(ways)) {
  const cost = await costOf(turn);
  const pings = await pingsBetweenPages(turn);
  console.log(`${name}: ${cost.toFixed(3)} ms a turn; ${pings} pings answered in 300 ms of pages`);
}
