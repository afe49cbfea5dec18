/** Shared test fixtures: servers on 127.0.0.1 with temp roots, raw sockets, hex vectors. */
import type { BackupServer } from "../server/server.ts";
import { openServer, type OpenServerOptions } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";
import { parseResponseHeader, type ResponseHeader } from "../protocol/response.ts";
import { concatBytes } from "../harness/bytes.ts";
import { encodeRequestHeader, type Op } from "../protocol/mod.ts";

/** Bytes from hex written with spaces, as PROTOCOL.md writes its vectors. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${text}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

/** Hex of bytes, no spaces, for comparisons that print well. */
export { toHex } from "../common/hex.ts";

/** A running test server, its temp root, and the log lines it wrote. */
export interface TestServer extends AsyncDisposable {
  server: BackupServer;
  root: string;
  port: number;
  logs: string[];
}

/**
 * Starts a server on 127.0.0.1 with a fresh temp root, composed as the server's command line
 * composes it (`openServer`: accounts, store, server); `await using` stops it, closes its store
 * and removes the root.
 */
export async function startTestServer(
  options: Partial<OpenServerOptions> = {},
): Promise<TestServer> {
  const root = options.root ?? await Deno.makeTempDir({ prefix: "backup-test-root-" });
  const logs: string[] = [];
  const server = await openServer({
    hostname: "127.0.0.1",
    port: 0,
    logger: createLogger({ format: "json", writeLine: (line) => logs.push(line) }),
    ...options,
    root,
  });
  return {
    server,
    root,
    port: server.addr.port,
    logs,
    async [Symbol.asyncDispose]() {
      await server.close();
      if (!options.root) await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * How long a `RawClient` waits for a byte before it gives up and fails the test: a server that
 * never answers makes a test fail, never hang the suite.
 */
export const RAW_READ_LIMIT_MS = 60_000;

/** A raw socket to a test server, for byte-exact exchanges. */
export class RawClient implements Disposable {
  private constructor(readonly conn: Deno.TcpConn) {}

  /** One read, failed (the socket closed) once `RAW_READ_LIMIT_MS` pass without a byte. */
  async #read(into: Uint8Array): Promise<number | null> {
    let silent = false;
    const timer = setTimeout(() => {
      silent = true;
      this.conn.close();
    }, RAW_READ_LIMIT_MS);
    try {
      return await this.conn.read(into);
    } catch (error) {
      if (silent) throw new Error(`the server sent nothing for ${RAW_READ_LIMIT_MS} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends all bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Reads exactly `count` bytes; throws if the connection ends first. */
  async readExactly(count: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const read = await this.#read(bytes.subarray(filled));
      if (read === null) throw new Error(`connection ended after ${filled} of ${count} bytes`);
      filled += read;
    }
    return bytes;
  }

  /** Reads one whole response: its raw bytes, parsed header and payload. */
  async readResponse(): Promise<{ raw: Uint8Array; header: ResponseHeader; payload: Uint8Array }> {
    let raw: Uint8Array = new Uint8Array();
    let parsed = parseResponseHeader(raw);
    while (!parsed) {
      const more = await this.readExactly(1);
      raw = concat(raw, more);
      parsed = parseResponseHeader(raw);
    }
    const payload = await this.readExactly(parsed.header.payloadSize);
    return { raw: concat(raw, payload), header: parsed.header, payload };
  }

  /** Resolves true if the server closes the connection (reads EOF or a reset) with no more bytes. */
  async isClosedByServer(): Promise<boolean> {
    try {
      return (await this.#read(new Uint8Array(1))) === null;
    } catch (error) {
      return error instanceof Deno.errors.ConnectionReset;
    }
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** Joins byte arrays (tests only: the product never concatenates payload chunks). */
export const concat = concatBytes;

/** A whole request frame: its header, then the payload if any. */
export function requestFrame(
  userId: number,
  op: Op,
  name: string,
  payload?: Uint8Array,
): Uint8Array {
  return concat(
    encodeRequestHeader({ userId, op, name, payloadSize: payload?.length }),
    payload ?? new Uint8Array(),
  );
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Every file path under `dir`, relative, sorted (for asserting what is on disk). */
export async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string, prefix: string) => {
    for await (const entry of Deno.readDir(current)) {
      if (entry.isDirectory) await walk(`${current}/${entry.name}`, `${prefix}${entry.name}/`);
      else found.push(prefix + entry.name);
    }
  };
  await walk(dir, "");
  return found.sort();
}

/** The path of the deno binary running the tests, to spawn the CLIs with. */
export const DENO = Deno.execPath();

/** The project folder (where deno.json is). */
export const PROJECT_DIR = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Whether two byte arrays are equal (fast enough for megabytes, unlike comparing hex). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Waits until `check` holds, polling; for state a test cannot await directly (a server's disk). */
export async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
