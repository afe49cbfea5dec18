/**
 * The property every hostile byte stream must keep: the server answers as the protocol says or closes,
 * never crashes, never leaks a file of another user or from outside the root, and still serves a
 * well-behaved client right after.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { BackupClient } from "../client/backup_client.ts";
import { Op, Status } from "../protocol/constants.ts";
import { parseRequestHeader } from "../protocol/request.ts";
import { fieldsOf, parseResponseHeader } from "../protocol/response.ts";
import type { BackupServer } from "../server/server.ts";
import { openServer } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";
import { hostileStream } from "./arbitraries.ts";
import { concatBytes } from "../harness/bytes.ts";
import { unreferencedFiles } from "../harness/stored.ts";

/** Largest upload the fuzzed server takes, so that oversized sizes are refused, not awaited. */
const MAX_FILE_SIZE = 1024 * 1024;
const CASE_TIMEOUT_MS = 5000;

const ALLOWED: Record<number, number[]> = {
  [Op.Backup]: [Status.Done, Status.GeneralError],
  [Op.Retrieve]: [Status.FileRestored, Status.FileNotFound, Status.GeneralError],
  [Op.Delete]: [Status.Done, Status.FileNotFound, Status.GeneralError],
  [Op.List]: [Status.ListSent, Status.NoFiles],
};

/** What the protocol says a stream should get: one answer per complete request, then maybe a 1003. */
export function expectedAnswers(bytes: Uint8Array): {
  requests: Array<{ op: number; userId: number; name: string }>;
  refused: boolean;
} {
  const requests: Array<{ op: number; userId: number; name: string }> = [];
  let offset = 0;
  while (offset < bytes.length) {
    let parsed;
    try {
      parsed = parseRequestHeader(bytes.subarray(offset));
    } catch {
      return { requests, refused: true };
    }
    if (!parsed) break;
    const { header } = parsed;
    if (header.op === Op.Backup && header.payloadSize > MAX_FILE_SIZE) {
      return { requests, refused: true };
    }
    const end = offset + parsed.byteLength + header.payloadSize;
    if (end > bytes.length) break;
    requests.push({ op: header.op, userId: header.userId, name: header.name });
    offset = end;
  }
  return { requests, refused: false };
}

/** A server on a temp root with planted files and links, and a folder outside it with a secret. */
export interface FuzzTarget extends AsyncDisposable {
  server: BackupServer;
  root: string;
  outside: string;
  /** Bytes that must never come back to anyone: the outside secret, and user 2's file. */
  secrets: Uint8Array[];
}

/** Sets up the target: user 1 and 2 files, a link in user 1's folder to the outside secret. */
export async function createFuzzTarget(): Promise<FuzzTarget> {
  const root = await Deno.makeTempDir({ prefix: "backup-fuzz-root-" });
  const outside = await Deno.makeTempDir({ prefix: "backup-fuzz-outside-" });
  const token = () => new TextEncoder().encode(`SECRET-${crypto.randomUUID()}`);
  const outsideSecret = token();
  const userTwoSecret = token();
  await Deno.writeFile(`${outside}/secret`, outsideSecret);
  await Deno.mkdir(`${root}/1`, { recursive: true });
  await Deno.mkdir(`${root}/2`, { recursive: true });
  await Deno.writeTextFile(`${root}/1/known.txt`, "user one");
  await Deno.writeFile(`${root}/2/known.txt`, userTwoSecret);
  await Deno.symlink(`${outside}/secret`, `${root}/1/link`);
  await Deno.symlink(outside, `${root}/1/dir`);
  const server = await openServer({
    root,
    hostname: "127.0.0.1",
    port: 0,
    limits: { maxFileSize: MAX_FILE_SIZE, frameTimeoutMs: CASE_TIMEOUT_MS },
    logger: createLogger({ quiet: true, writeLine: () => {} }),
  });
  return {
    server,
    root,
    outside,
    secrets: [outsideSecret, userTwoSecret],
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    },
  };
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Sends `bytes` on a fresh connection, ends the sending side, and reads everything until close. */
async function exchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), CASE_TIMEOUT_MS);
  const received: Uint8Array[] = [];
  try {
    const sending = (async () => {
      try {
        let offset = 0;
        while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
        await conn.closeWrite();
      } catch {
        // the server may close first (after a 1003): what it sent is still checked
      }
    })();
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionReset) break;
        throw error;
      }
      if (count === null) break;
      received.push(buffer.slice(0, count));
    }
    await sending;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer: the case took too long, which the caller reports
    }
  }
  return concatBytes(...received);
}

/** Checks one hostile stream against the property; throws an AssertionError with the details. */
export async function checkHostileStream(target: FuzzTarget, bytes: Uint8Array): Promise<void> {
  const expected = expectedAnswers(bytes);
  const started = performance.now();
  const received = await exchange(target.server.addr.port, bytes);
  assert.ok(
    performance.now() - started < CASE_TIMEOUT_MS,
    "the server neither answered nor closed",
  );
  let offset = 0;
  const answers: Array<{ status: number; name: string; payload: Uint8Array }> = [];
  while (offset < received.length) {
    const parsed = parseResponseHeader(received.subarray(offset));
    assert.ok(parsed, `a truncated response at byte ${offset} of ${received.length}`);
    const end = offset + parsed.byteLength + parsed.header.payloadSize;
    assert.ok(end <= received.length, "a response payload cut short");
    answers.push({
      status: parsed.header.status,
      name: parsed.header.name,
      payload: received.subarray(offset + parsed.byteLength, end),
    });
    offset = end;
  }
  const wanted = expected.requests.length + (expected.refused ? 1 : 0);
  assert.equal(answers.length, wanted, `answers: ${answers.map((a) => a.status)}`);
  for (const [i, request] of expected.requests.entries()) {
    const answer = answers[i];
    assert.ok(ALLOWED[request.op].includes(answer.status), `op ${request.op} got ${answer.status}`);
    if (fieldsOf(answer.status as Status).name && answer.status !== Status.ListSent) {
      assert.equal(answer.name, request.name, "the answer echoes the requested name");
    }
    for (const secret of target.secrets) {
      const mayHoldIt = request.userId === 2 && secret === target.secrets[1];
      if (!mayHoldIt) assert.ok(!contains(answer.payload, secret), "a secret leaked");
    }
  }
  if (expected.refused) assert.equal(answers.at(-1)!.status, Status.GeneralError);
  // A well-behaved client is served right after.
  using client = await BackupClient.connect({ userId: 4242, port: target.server.addr.port });
  await client.backup("probe", ReadableStream.from([new Uint8Array([1, 2, 3])]), 3);
  assert.deepEqual(await client.list(), ["probe"]);
}

/** After a run: the outside folder is untouched, and the root holds only the index, data and packs. */
export async function checkWalls(target: FuzzTarget): Promise<void> {
  const outsideEntries = await Array.fromAsync(Deno.readDir(target.outside));
  assert.deepEqual(outsideEntries.map((entry) => entry.name), ["secret"]);
  assert.deepEqual(await Deno.readFile(`${target.outside}/secret`), target.secrets[0]);
  // User folders stay only around what the import of the version 1 layout left: the planted links.
  const layout = /^(index\.sqlite(-wal|-shm)?|server\.lock|data|repo|\d+)$/;
  for await (const entry of Deno.readDir(target.root)) {
    assert.ok(layout.test(entry.name), `unexpected ${entry.name}`);
  }
  // Packs of cut-off uploads go away once their connections have ended.
  const deadline = Date.now() + 2000;
  while ((await unreferencedFiles(target.root)).length > 0) {
    assert.ok(Date.now() < deadline, "packs of cut-off uploads left behind");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Options of `fuzzServer`. */
export interface FuzzOptions {
  /** Seed of the generator; print it so that a failure can be replayed. */
  seed: number;
  /** Number of hostile streams. */
  runs: number;
}

/** Runs the property over `runs` generated streams against one server; throws on the first failure. */
export async function fuzzServer(options: FuzzOptions): Promise<void> {
  await using target = await createFuzzTarget();
  await fc.assert(
    fc.asyncProperty(hostileStream, (bytes) => checkHostileStream(target, bytes)),
    { seed: options.seed, numRuns: options.runs, endOnFailure: true },
  );
  await checkWalls(target);
}
