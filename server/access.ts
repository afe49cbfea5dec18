/**
 * Who may do what: version 1 requests, version 2 handshakes against the accounts of the users
 * file (re-read on `reload`), append-only, and each account's quota.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { BackupError } from "../common/backup_error.ts";
import type { AuthRequest } from "../protocol/v2/requests.ts";
import { authMessage } from "../protocol/v2/auth.ts";
import { compareBytes } from "../protocol/list.ts";
import { type Account, parseUsersFile } from "./accounts.ts";

/** A request the account or the server's settings do not allow (1003). */
export class ForbiddenError extends BackupError {
  /**
   * Builds the error.
   * @param message what was refused and why
   * @param closes whether the connection closes after the refusal (the peer is not who it should be)
   */
  constructor(message: string, readonly closes: boolean) {
    super(message);
  }
}

/** A failed handshake: unknown or revoked key, wrong user, bad signature (1003 and a close). */
export class AuthFailedError extends BackupError {
  /**
   * Builds the error.
   * @param message why, for the operator's log (the client is told less)
   */
  constructor(message: string) {
    super(message);
  }
}

/** What an authenticated connection may do. */
export interface Session {
  userId: number;
  /** The account's name, or `undefined` on a server without accounts. */
  accountName?: string;
  appendOnly: boolean;
}

/** Options of `Access.load`. */
export interface AccessOptions {
  /** The users file; without it the server is open (any user id, as in version 1). */
  usersFile?: string;
  /** Serve version 1 requests beside the accounts (for user ids that are not accounts). */
  allowV1?: boolean;
  /** Refuse deletes and replaces for everyone. */
  appendOnly?: boolean;
  /** How files are read; injected by tests. @default Deno.readTextFile */
  readTextFile?: (path: string) => Promise<string>;
}

/** The server's access rules; see the module comment. */
export class Access {
  readonly #options: AccessOptions;
  #accounts: Map<number, Account> | undefined;
  /** Imported keys of accounts, by hex, until the next reload. */
  #verifyKeys = new Map<string, Promise<CryptoKey>>();

  private constructor(options: AccessOptions, accounts: Map<number, Account> | undefined) {
    this.#options = options;
    this.#accounts = accounts;
  }

  /**
   * Reads the users file, if any.
   *
   * @throws {UsersFileError} or a file system error if it cannot be used.
   */
  static async load(options: AccessOptions = {}): Promise<Access> {
    const accounts = options.usersFile === undefined ? undefined : await readAccounts(options);
    return new Access(options, accounts);
  }

  /** True when requests must come from an authenticated connection (a users file is in use). */
  get accountsRequired(): boolean {
    return this.#accounts !== undefined;
  }

  /** How many accounts, for the log. */
  get accountCount(): number {
    return this.#accounts?.size ?? 0;
  }

  /**
   * Re-reads the users file. A file that cannot be used keeps the accounts as they were.
   *
   * @throws {UsersFileError} or a file system error, with the old accounts still in force.
   */
  async reload(): Promise<number> {
    if (this.#options.usersFile === undefined) return 0;
    const accounts = await readAccounts(this.#options);
    this.#accounts = accounts;
    this.#verifyKeys = new Map();
    return accounts.size;
  }

  /**
   * Checks a version 1 request.
   *
   * @throws {ForbiddenError} with accounts, unless `allowV1` and the id is not an account's.
   */
  checkV1(userId: number, op: "backup" | "retrieve" | "delete" | "list"): void {
    if (this.#accounts) {
      if (!this.#options.allowV1) {
        throw new ForbiddenError("version 1 request on a server with accounts", true);
      }
      if (this.#accounts.has(userId)) {
        throw new ForbiddenError(`version 1 request for user ${userId}, an account`, true);
      }
    }
    if (op === "delete" && this.#options.appendOnly) {
      throw new ForbiddenError("deletes are refused: the server is append-only", false);
    }
  }

  /** Whether version 1 uploads may replace files. */
  get v1AppendOnly(): boolean {
    return this.#options.appendOnly ?? false;
  }

  /**
   * Checks an Auth request's signature over `nonce` and finds the account.
   *
   * @throws {AuthFailedError} saying why, for the log.
   */
  async authenticate(request: AuthRequest, nonce: Uint8Array): Promise<Session> {
    const serverAppendOnly = this.#options.appendOnly ?? false;
    let session: Session = { userId: request.userId, appendOnly: serverAppendOnly };
    if (this.#accounts) {
      const account = this.#accounts.get(request.userId);
      if (!account) throw new AuthFailedError(`no account for user ${request.userId}`);
      const known = account.keys.find(({ key }) => compareBytes(key, request.publicKey) === 0);
      if (!known) throw new AuthFailedError(`key not listed for user ${request.userId}`);
      session = {
        userId: account.id,
        accountName: account.name,
        appendOnly: serverAppendOnly || account.appendOnly,
      };
    }
    const key = await this.#verifyKey(request.publicKey);
    const message = authMessage(nonce, request.userId, request.publicKey);
    const signature = new Uint8Array(request.signature);
    const good = await crypto.subtle.verify("Ed25519", key, signature, new Uint8Array(message));
    if (!good) throw new AuthFailedError(`bad signature for user ${request.userId}`);
    return session;
  }

  /** A user's quota from the users file, or 0 to use the server's. */
  quotaOf(userId: number): number {
    return this.#accounts?.get(userId)?.quotaBytes ?? 0;
  }

  #verifyKey(raw: Uint8Array): Promise<CryptoKey> {
    const hex = toHex(raw);
    let key = this.#verifyKeys.get(hex);
    if (!key) {
      key = crypto.subtle.importKey("raw", raw.slice(), "Ed25519", false, ["verify"]);
      // Only keys of accounts are kept (a bounded set); an open server's clients bring any key.
      if (this.#accounts) this.#verifyKeys.set(hex, key);
    }
    return key;
  }
}

async function readAccounts(options: AccessOptions): Promise<Map<number, Account>> {
  const read = options.readTextFile ?? Deno.readTextFile;
  return parseUsersFile(await read(options.usersFile!));
}
