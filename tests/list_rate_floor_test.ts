/**
 * The transfer-rate floor (`minTransferRate`) holds for list answers as for payloads: a client that
 * reads a long list slower than the floor is closed, one that reads at speed gets all of it.
 */
import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { addIndexRows } from "./_index_rows.ts";
import { RawClient, startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const NAMES = 72_000;
const nameOf = (i: number) => `${"d".repeat(990)}/${String(i).padStart(8, "0")}`;
const HEADER_BYTES = 3 + 2 + 32 + 4;
/** 16 MiB/s: far above the slow reader, far below what a reader at speed gets on loopback. */
const FLOOR = 16 * 1024 * 1024;

/**
 * A root whose user 9 has 72,000 names of 999 bytes: a list of ~69 MiB, far more than the sockets'
 * buffers hold on loopback (which grow to tens of MiB).
 */
async function bigRoot(): Promise<{ root: string; payloadSize: number }> {
  const root = await Deno.makeTempDir({ prefix: "backup-list-floor-" });
  const rows = Array.from(
    { length: NAMES },
    (_, i) => ({ userId: 9, name: nameOf(i), storedMs: 0 }),
  );
  return { root, payloadSize: addIndexRows(root, rows) };
}

/**
 * Reads the answer, `chunk` bytes at a time with `pauseMs` between (0: as fast as it comes), for
 * at most `limitMs`, and without pauses once `hurry()` holds (what is left in the socket's buffers
 * then drains at once); resolves the bytes read and whether the server closed first.
 */
async function readList(
  client: RawClient,
  options: {
    chunk: number;
    pauseMs: number;
    limitMs: number;
    total: number;
    hurry?: () => boolean;
  },
): Promise<{ bytes: number; closed: boolean }> {
  const buffer = new Uint8Array(options.chunk);
  const started = Date.now();
  let bytes = 0;
  while (bytes < options.total && Date.now() - started < options.limitMs) {
    let read: number | null;
    try {
      read = await client.conn.read(buffer);
    } catch {
      return { bytes, closed: true }; // reset by the server
    }
    if (read === null) return { bytes, closed: true };
    bytes += read;
    if (options.pauseMs > 0 && !options.hurry?.()) {
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  }
  return { bytes, closed: false };
}

Deno.test("a list read slower than the transfer-rate floor is closed; one read at speed is whole", async () => {
  const { root, payloadSize } = await bigRoot();
  try {
    await using t = await startTestServer({
      root,
      limits: { frameTimeoutMs: 3000, minTransferRate: FLOOR },
    });
    const total = HEADER_BYTES + payloadSize;

    // At speed: every byte, the connection still open for the next request.
    using fast = await RawClient.connect(t.port);
    await fast.send(encodeRequestHeader({ userId: 9, op: Op.List }));
    const head = await fast.readExactly(HEADER_BYTES);
    assert.equal(new DataView(head.buffer).getUint16(1, true), Status.ListSent);
    const whole = await readList(fast, {
      chunk: 256 * 1024,
      pauseMs: 0,
      limitMs: 30_000,
      total: total - HEADER_BYTES,
    });
    assert.deepEqual(whole, { bytes: payloadSize, closed: false });

    // About 1 MiB/s (64 KiB every 60 ms), a sixteenth of the floor: closed within seconds, long
    // before the ~69 MiB are read. Each 1 MiB write alone takes ~1 s, never the 3 s frame
    // timeout: only the rate floor can close it.
    using slow = await RawClient.connect(t.port);
    await slow.send(encodeRequestHeader({ userId: 9, op: Op.List }));
    const started = Date.now();
    const why = `list slower than ${FLOOR} bytes/s`;
    const cut = await readList(slow, {
      chunk: 64 * 1024,
      pauseMs: 60,
      limitMs: 15_000,
      total,
      hurry: () => t.logs.some((line) => line.includes(why)),
    });
    assert.ok(
      cut.closed,
      `the slow reader read ${cut.bytes} of ${total} bytes in 15 s, not closed`,
    );
    assert.ok(cut.bytes < total, "closed before the end of the list");
    assert.ok(Date.now() - started < 15_000);
    assert.ok(t.logs.some((line) => line.includes(why)), `the log says why: ${t.logs.join("\n")}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
