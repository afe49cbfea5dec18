import assert from "node:assert/strict";
import { HandshakeThrottle } from "../server/handshake_throttle.ts";
import { resolveLimits } from "../server/limits.ts";
import { encodeRequestHeader, Op } from "../protocol/mod.ts";
import { OpV2, RefusalCode, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { authFrame, makeKey, RawSession, startV2Server } from "./_v2.ts";
import { RawClient, startTestServer } from "./_helpers.ts";
import { runCli } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("failed handshakes from one address are answered ever later, and their log lines rationed", () => {
  let now = 0;
  const throttle = new HandshakeThrottle({
    baseDelayMs: 100,
    maxDelayMs: 1000,
    forgetAfterMs: 60_000,
    now: () => now,
  });
  const decisions = Array.from({ length: 9 }, () => throttle.failed("192.0.2.1"));
  // Each answer is due one step after the previous one (100, +200, +400), never more than the
  // ceiling from now, however many attempts run in parallel.
  assert.deepEqual(
    decisions.map((d) => d.delayMs),
    [100, 300, 700, 1000, 1000, 1000, 1000, 1000, 1000],
  );
  assert.deepEqual(decisions.map((d) => d.log), [
    true,
    true,
    true,
    true,
    false,
    false,
    false,
    true,
    false,
  ]);
  assert.equal(decisions[7].suppressed, 3, "the line at the 8th failure counts the 3 not logged");
  assert.equal(throttle.failed("198.51.100.7").delayMs, 100, "another address starts afresh");
  now += 60_001;
  assert.equal(throttle.failed("192.0.2.1").delayMs, 100, "forgotten after a quiet minute");
  throttle.failed("192.0.2.1");
  throttle.succeeded("192.0.2.1");
  assert.equal(throttle.failed("192.0.2.1").delayMs, 100, "a good handshake forgets the failures");
});

Deno.test("the server slows a second failed handshake from the same address down", async () => {
  const alice = await makeKey();
  const mallory = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], {
    throttle: { baseDelayMs: 150, maxDelayMs: 1000 },
  });
  const attempt = async () => {
    using session = await RawSession.connect(t.port);
    await session.send(encodeRequestV2({ op: OpV2.Hello, userId: 77 }));
    const challenge = await session.read();
    if (challenge?.status !== StatusV2.Challenge) throw new Error("no challenge");
    const sentAt = performance.now();
    await session.send(await authFrame(77, mallory, challenge.nonce));
    const answer = await session.read();
    assert.equal((answer as { code: number }).code, RefusalCode.AuthFailed);
    return performance.now() - sentAt;
  };
  assert.ok(await attempt() >= 150, "the first failure waits the base delay");
  assert.ok(await attempt() >= 300, "the second waits twice as long");
  const failures = t.logs.map((line) => JSON.parse(line)).filter((line) =>
    line.msg === "handshake failed"
  );
  assert.deepEqual(failures.map((line) => line.failures), [1, 2]);
});

Deno.test("a header trickled in byte by byte is closed at the frame timeout from its first byte", async () => {
  await using t = await startTestServer({ limits: { frameTimeoutMs: 300, idleTimeoutMs: 10_000 } });
  using raw = await RawClient.connect(t.port);
  const header = encodeRequestHeader({ userId: 1, op: Op.Retrieve, name: "x".repeat(200) });
  const startedAt = performance.now();
  const closed = raw.isClosedByServer();
  let sent = 0;
  let open = true;
  closed.then(() => open = false);
  // One byte every 50 ms would take 10 s: each byte restarted the timer before.
  while (open && sent < header.length) {
    await raw.send(header.subarray(sent, sent + 1)).catch(() => {});
    sent++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise((resolve) => timer = setTimeout(resolve, 50))]);
    clearTimeout(timer); // the close may win the race: no timer outlives the test
  }
  assert.equal(await closed, true);
  const elapsed = performance.now() - startedAt;
  assert.ok(elapsed < 2000, `closed after ${elapsed} ms, ${sent} of ${header.length} bytes`);
  const reasons = t.logs.map((line) => JSON.parse(line)).filter((l) =>
    l.msg === "connection closed"
  );
  assert.equal(reasons[0]?.reason, "frame timeout");
});

Deno.test("timeouts below the timer's resolution are refused, not silently turned off", async () => {
  assert.throws(
    () => resolveLimits({ frameTimeoutMs: 5 }),
    /frameTimeoutMs must be 0 \(off\) or at least 10/,
  );
  assert.equal(resolveLimits({ frameTimeoutMs: 0 }).frameTimeoutMs, 0);
  for (const value of ["0.001", "0.0001"]) {
    const result = await runCli("server.ts", ["--frame-timeout", value, "--port", "0"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--frame-timeout must be 0 \(off\) or at least 0.01 s/);
  }
});
