/** Fixtures for protocol version 2: keys, users files, TLS servers with accounts. */
import { formatSshPublicKey } from "../protocol/v2/auth.ts";
import { authFrame } from "../client/session_frames.ts";
export { authFrame };
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { parseResponseV2, type ResponseV2 } from "../protocol/v2/responses.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import { writeAll } from "../io/byte_stream.ts";
import type { ClientKey } from "../client/keys.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { OpenServerOptions } from "../cli/open_server.ts";
import { PROJECT_DIR, startTestServer, type TestServer } from "./_helpers.ts";

/** The test certificate and key (see tests/fixtures/tls/README.md). */
export const TLS = {
  certFile: `${PROJECT_DIR}/tests/fixtures/tls/server-cert.pem`,
  keyFile: `${PROJECT_DIR}/tests/fixtures/tls/server-key.pem`,
};
/** A second pair: a certificate clients do not trust, or the one a reload switches to. */
export const OTHER_TLS = {
  certFile: `${PROJECT_DIR}/tests/fixtures/tls/other-cert.pem`,
  keyFile: `${PROJECT_DIR}/tests/fixtures/tls/other-key.pem`,
};
/** The test certificate's PEM, for clients to trust. */
export const CA = Deno.readTextFileSync(TLS.certFile);

/** A fresh Ed25519 key held in memory. */
export async function makeKey(): Promise<ClientKey> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey, path: "(memory)" };
}

/** An account of a users file. */
export interface TestAccount {
  id: number;
  keys: ClientKey[];
  appendOnly?: boolean;
  quota?: string;
}

/** The users file's text for these accounts. */
export function usersFileText(accounts: TestAccount[]): string {
  return JSON.stringify({
    users: accounts.map(({ id, keys, appendOnly, quota }) => ({
      id,
      name: `user${id}`,
      keys: keys.map((key) => formatSshPublicKey(key.publicKey, `key-of-${id}`)),
      appendOnly,
      quota,
    })),
  });
}

/** A TLS server with accounts, its users file in a temp folder removed with it. */
export interface V2TestServer extends TestServer {
  usersFile: string;
  /** Rewrites the users file (then `server.reload()` or SIGHUP). */
  writeAccounts(accounts: TestAccount[]): Promise<void>;
  /** A version 2 client over TLS, trusting the test certificate. */
  connect(userId: number, key: ClientKey): Promise<BackupClientV2>;
}

/** Starts a TLS server with these accounts (`options` may override anything). */
export async function startV2Server(
  accounts: TestAccount[],
  options: Partial<OpenServerOptions> = {},
): Promise<V2TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "backup-test-etc-" });
  const usersFile = `${dir}/users.json`;
  await Deno.writeTextFile(usersFile, usersFileText(accounts));
  const t = await startTestServer({
    tls: TLS,
    ...options,
    access: { usersFile, ...options.access },
  });
  return {
    ...t,
    usersFile,
    writeAccounts: (next) => Deno.writeTextFile(usersFile, usersFileText(next)),
    connect: (userId, key) =>
      BackupClientV2.connect({
        userId,
        key,
        hostname: "127.0.0.1",
        port: t.port,
        tls: !("tls" in options) || options.tls !== undefined,
        caCerts: [CA],
      }),
    async [Symbol.asyncDispose]() {
      await t[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A version 2 session driven frame by frame, for what a well-behaved client never sends. */
export class RawSession implements Disposable {
  readonly #reader: BufferedReader;

  private constructor(readonly conn: Deno.Conn) {
    this.#reader = new BufferedReader(conn, 64 * 1024);
  }

  /** Connects over TLS to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawSession> {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [CA] });
    await conn.handshake();
    return new RawSession(conn);
  }

  /** Sends bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Reads one response header; `null` if the server closed first. */
  async read(): Promise<ResponseV2 | null> {
    try {
      return await this.#reader.readFrame(parseResponseV2, "response");
    } catch {
      return null; // reset or cut: the server closed
    }
  }

  /** Hello, then the Auth frame signed with `key` for `userId`; resolves the Auth frame sent. */
  async authenticate(userId: number, key: ClientKey): Promise<Uint8Array> {
    await this.send(encodeRequestV2({ op: OpV2.Hello, userId }));
    const challenge = await this.read();
    if (challenge?.status !== StatusV2.Challenge) throw new Error("no challenge");
    const auth = await authFrame(userId, key, challenge.nonce);
    await this.send(auth);
    return auth;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
