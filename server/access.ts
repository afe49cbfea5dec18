/**
 * Who may do what: version 1 requests, version 2 handshakes against the accounts of the users
 * file (re-read on `reload`), append-only, and each account's quota. A reload reaches open
 * sessions: each request, and each chunk or page of a transfer under way, `refresh`es its session
 * against the accounts in force.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { toHex } from "../common/hex.ts";
import { BackupError } from "../common/backup_error.ts";
import type { AuthRequest } from "../protocol/v2/requests.ts";
import { authMessage } from "../protocol/v2/auth.ts";
import { compareBytes } from "../protocol/list.ts";
import { type Account, parseUsersFile } from "./accounts.ts";
import type { Logger } from "./log.ts";

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

/**
 * A session whose account or key the users file no longer lists (removed, then reloaded): its
 * connection is answered and closed.
 */
export class SessionRevokedError extends BackupError {
  /**
   * Builds the error.
   * @param message what was removed, for the log and the client
   */
  constructor(message: string) {
    super(message);
  }
}

/** What an authenticated connection may do. */
export interface Session {
  /** The user id it acts for. */
  userId: number;
  /** The account's name, or `undefined` on a server without accounts. */
  accountName?: string;
  /** Deletes refused, replaced versions kept (as of `generation`). */
  appendOnly: boolean;
  /** The key the session signed in with (raw, 32 bytes). */
  publicKey: Uint8Array;
  /** `Access.generation` when the account was last looked up: see `Access.refresh`. */
  generation: number;
}

/** Options of `Access.load`. */
export interface AccessOptions {
  /** The users file; without it the server is open (any user id, as in version 1). */
  usersFile?: string;
  /** Serve version 1 requests beside the accounts (for user ids that are not accounts). */
  allowV1?: boolean;
  /** Every user is append-only: deletes refused, replaces kept as past versions. */
  appendOnly?: boolean;
  /** How files are read; injected by tests. @default Deno.readTextFile */
  readTextFile?: (path: string) => Promise<string>;
}

/** The server's access rules; see the module comment. */
export class Access {
  readonly #options: AccessOptions;
  readonly #log: Pick<Logger, "warn"> | undefined;
  #accounts: Map<number, Account> | undefined;
  /**
   * Every id that was an account in a users file this process loaded: version 1 stays refused for
   * them after their entry is removed, or their files would be open to anyone who speaks it.
   */
  readonly #retiredIds = new Set<number>();
  /** Imported keys of accounts, by hex, until the next reload. */
  #verifyKeys = new Map<string, KeyObject>();
  /** Counts reloads that changed the accounts: a session looked up before must look again. */
  #generation = 0;

  private constructor(
    options: AccessOptions,
    accounts: Map<number, Account> | undefined,
    log: Pick<Logger, "warn"> | undefined,
  ) {
    this.#options = options;
    this.#log = log;
    this.#setAccounts(accounts);
  }

  /**
   * Reads the users file, if any.
   *
   * @param log where a reload that removes an account warns; none by default
   * @throws {UsersFileError} or a file system error if it cannot be used.
   */
  static async load(options: AccessOptions = {}, log?: Pick<Logger, "warn">): Promise<Access> {
    const accounts = options.usersFile === undefined ? undefined : await readAccounts(options);
    return new Access(options, accounts, log);
  }

  /** True when requests must come from an authenticated connection (a users file is in use). */
  get accountsRequired(): boolean {
    return this.#accounts !== undefined;
  }

  /** How many accounts, for the log. */
  get accountCount(): number {
    return this.#accounts?.size ?? 0;
  }

  /** Grows by one at each reload of the accounts; a session keeps the one it was checked at. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Re-reads the users file. A file that cannot be used keeps the accounts as they were. An account
   * the new file leaves out is warned about: version 1 stays refused for its id only while this
   * process runs (keeping its entry with `"keys": []` retires it for good).
   *
   * @throws {UsersFileError} or a file system error, with the old accounts still in force.
   */
  async reload(): Promise<number> {
    if (this.#options.usersFile === undefined) return 0;
    const accounts = await readAccounts(this.#options);
    const removed = [...this.#accounts?.keys() ?? []].filter((id) => !accounts.has(id));
    this.#setAccounts(accounts);
    this.#verifyKeys = new Map();
    this.#generation++;
    if (removed.length > 0) {
      // Refused for now (`checkV1`), but a restart forgets them: say how to retire one for good.
      this.#log?.warn(
        'accounts removed from the users file: with --allow-v1 their files become reachable by version 1 clients after a restart unless each entry is kept with "keys": []',
        { userIds: removed },
      );
    }
    return accounts.size;
  }

  #setAccounts(accounts: Map<number, Account> | undefined): void {
    this.#accounts = accounts;
    for (const id of accounts?.keys() ?? []) this.#retiredIds.add(id);
  }

  /**
   * Checks a version 1 request.
   *
   * @throws {ForbiddenError} with accounts, unless `allowV1` and the id is not an account's now
   * and was not one in any users file this process loaded (a removed account's files stay shut).
   */
  checkV1(userId: number, op: "backup" | "retrieve" | "delete" | "list"): void {
    if (this.#accounts) {
      if (!this.#options.allowV1) {
        throw new ForbiddenError("version 1 request on a server with accounts", true);
      }
      if (this.#accounts.has(userId)) {
        throw new ForbiddenError(`version 1 request for user ${userId}, an account`, true);
      }
      if (this.#retiredIds.has(userId)) {
        throw new ForbiddenError(`version 1 request for user ${userId}, a removed account`, true);
      }
    }
    if (op === "delete" && this.appendOnlyOf(userId)) {
      throw new ForbiddenError("deletes are refused: the server is append-only", false);
    }
  }

  /**
   * Whether `userId`'s files are append-only now: the server's `--append-only`, or the account's
   * `appendOnly` in the users file as last (re)loaded. Storage asks it at each upload, delete and
   * prune, so a reload applies at once.
   */
  appendOnlyOf(userId: number): boolean {
    return (this.#options.appendOnly ?? false) ||
      (this.#accounts?.get(userId)?.appendOnly ?? false);
  }

  /**
   * The session as the accounts in force now see it: the same object while no reload happened
   * since it was looked up (one comparison), else its account looked up again, with its
   * append-only setting as it is now.
   *
   * @throws {SessionRevokedError} if the account or the session's key is no longer listed.
   */
  refresh(session: Session): Session {
    if (session.generation === this.#generation) return session;
    const generation = this.#generation;
    if (!this.#accounts) return { ...session, generation };
    const account = this.#accounts.get(session.userId);
    if (!account) {
      throw new SessionRevokedError(`the account of user ${session.userId} was removed`);
    }
    if (!listsKey(account, session.publicKey)) {
      throw new SessionRevokedError(
        `the key this session signed in with was removed from user ${session.userId}`,
      );
    }
    const appendOnly = this.appendOnlyOf(session.userId);
    return { ...session, accountName: account.name, appendOnly, generation };
  }

  /**
   * Checks an Auth request's signature over `nonce` and finds the account. `signed` builds the
   * message the signature covers: version 2's by default, version 3's binds it to its version.
   *
   * @throws {AuthFailedError} saying why, for the log.
   */
  authenticate(
    request: AuthRequest,
    nonce: Uint8Array,
    signed: typeof authMessage = authMessage,
  ): Session {
    let accountName: string | undefined;
    if (this.#accounts) {
      const account = this.#accounts.get(request.userId);
      if (!account) throw new AuthFailedError(`no account for user ${request.userId}`);
      if (!listsKey(account, request.publicKey)) {
        throw new AuthFailedError(`key not listed for user ${request.userId}`);
      }
      accountName = account.name;
    }
    const key = this.#verifyKey(request.publicKey, request.userId);
    const message = signed(nonce, request.userId, request.publicKey);
    // node:crypto verifies on this thread: WebCrypto's verify went through a thread pool whose
    // answers came milliseconds late once the process had made TLS connections.
    if (!verify(null, message, key, request.signature)) {
      throw new AuthFailedError(`bad signature for user ${request.userId}`);
    }
    // Looked up against the accounts of this generation (nothing above awaits).
    return {
      userId: request.userId,
      accountName,
      appendOnly: this.appendOnlyOf(request.userId),
      publicKey: request.publicKey.slice(),
      generation: this.#generation,
    };
  }

  /** A user's quota from the users file, or 0 to use the server's. */
  quotaOf(userId: number): number {
    return this.#accounts?.get(userId)?.quotaBytes ?? 0;
  }

  #verifyKey(raw: Uint8Array, userId: number): KeyObject {
    const hex = toHex(raw);
    let key = this.#verifyKeys.get(hex);
    if (!key) {
      try {
        const x = Buffer.from(raw).toString("base64url");
        key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
      } catch {
        throw new AuthFailedError(`an unusable public key for user ${userId}`);
      }
      // Only keys of accounts are kept (a bounded set); an open server's clients bring any key.
      if (this.#accounts) this.#verifyKeys.set(hex, key);
    }
    return key;
  }
}

/** Whether `account` lists the raw public key `key`. */
function listsKey(account: Account, key: Uint8Array): boolean {
  return account.keys.some((listed) => compareBytes(listed.key, key) === 0);
}

async function readAccounts(options: AccessOptions): Promise<Map<number, Account>> {
  const read = options.readTextFile ?? Deno.readTextFile;
  return parseUsersFile(await read(options.usersFile!));
}
