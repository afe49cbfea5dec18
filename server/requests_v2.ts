/**
 * Version 2 requests: the handshake (Hello, then Auth signed over the nonce), then uploads checked
 * against their SHA-256, retrieves of any version, lists with metadata (now or at a time) and lists
 * of versions, for the authenticated user only.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { NONCE_SIZE, OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { DIGEST_TRAILER_SIZE, type RequestV2 } from "../protocol/v2/requests.ts";
import {
  encodeEntry,
  encodeResponseV2,
  END_OF_ENTRIES,
  type VersionInfo,
} from "../protocol/v2/responses.ts";
import type { FileMetadata, VersionRecord } from "../storage/storage.ts";
import { type Access, AuthFailedError, ForbiddenError, type Session } from "./access.ts";
import type { HandshakeThrottle } from "./handshake_throttle.ts";
import type { RequestContext } from "./requests_v1.ts";
import {
  type ByteCount,
  checkFileSize,
  receiveUpload,
  sendStored,
  type TransferIo,
} from "./transfers.ts";
import { listWriter } from "./list_response.ts";

/** The names of the ops, for the log. */
export const V2_OP_NAMES = {
  [OpV2.Hello]: "hello",
  [OpV2.Auth]: "auth",
  [OpV2.Backup]: "backup",
  [OpV2.Retrieve]: "retrieve",
  [OpV2.Delete]: "delete",
  [OpV2.List]: "list",
  [OpV2.Versions]: "versions",
} as const;

/** What a version 2 session works with besides a version 1 request's context. */
export interface SessionContext extends RequestContext {
  readonly access: Access;
  readonly throttle: HandshakeThrottle;
  /** The peer's host, without the port: failed handshakes are slowed down per host. */
  readonly peerHost: string;
  /** Reads the 32-byte digest after a payload, within the frame timeout. */
  readDigest(): Promise<Uint8Array>;
  /** Waits; the handshake throttle's delays go through it. */
  sleep(ms: number): Promise<void>;
}

/** A failed handshake, with what the throttle decided about logging it. */
export class ThrottledAuthError extends AuthFailedError {
  /**
   * @param cause the failure
   * @param logged whether the log shows it (false while the peer's lines are rationed)
   * @param failures failures in a row from the peer's host
   * @param suppressed failures from the host not logged before this one
   */
  constructor(
    cause: AuthFailedError,
    readonly logged: boolean,
    readonly failures: number,
    readonly suppressed: number,
  ) {
    super(cause.message);
  }
}

/** One connection's version 2 session: the handshake's state, then the authenticated user. */
export class SessionV2 {
  readonly #ctx: SessionContext;
  #nonce: Uint8Array | undefined;
  #session: Session | undefined;

  /** @param ctx storage, access rules and the connection's helpers */
  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
  }

  /** True once Hello was answered and Auth is awaited. */
  get inHandshake(): boolean {
    return this.#nonce !== undefined && this.#session === undefined;
  }

  /**
   * Carries out one request; resolves the status it answered with.
   *
   * @throws what the request failed with (turned into an answer by `outcomeForError`).
   */
  async handle(request: RequestV2, io: TransferIo, record: ByteCount): Promise<number> {
    const { storage } = this.#ctx;
    if (request.op === OpV2.Hello) return await this.#hello(io);
    if (request.op === OpV2.Auth) return await this.#auth(request, io);
    const session = this.#authorize(request.userId);
    switch (request.op) {
      case OpV2.Backup: {
        checkFileSize(request.size, this.#ctx.maxFileSize);
        const { name, size, mtimeMs, mode } = request;
        await receiveUpload(io, {
          size,
          begin: async () => {
            await this.#ctx.plainUploads.check(session.userId);
            return await storage.beginUpload(session.userId, name, {
              size,
              mtimeMs,
              mode: mode ?? undefined,
            });
          },
          afterPayload: async () => ({ sha256: await this.#ctx.readDigest() }),
        }, record);
        return await respond(io, { status: StatusV2.Done, name });
      }
      case OpV2.Retrieve: {
        const versionId = request.versionId === 0 ? undefined : request.versionId;
        using stored = await storage.open(session.userId, request.name, versionId);
        const head = encodeResponseV2({
          status: StatusV2.FileRestored,
          name: request.name,
          info: infoOf(stored.metadata),
        });
        await sendStored(io, stored, (target) => (target.set(head), head), record);
        return StatusV2.FileRestored;
      }
      case OpV2.Delete:
        if (session.appendOnly) {
          throw new ForbiddenError("deletes are refused: the account is append-only", false);
        }
        await storage.delete(session.userId, request.name);
        return await respond(io, { status: StatusV2.Done, name: request.name });
      case OpV2.List: {
        const query = {
          prefix: request.prefix,
          atMs: request.atMs === 0 ? undefined : request.atMs,
        };
        using _turn = await this.#ctx.listTurns.take(session.userId, io.closed);
        using listing = await storage.entries(session.userId, query);
        record.bytes = await sendEntries(listing.pages[Symbol.asyncIterator](), io);
        return StatusV2.EntriesSent;
      }
      case OpV2.Versions: {
        using _turn = await this.#ctx.listTurns.take(session.userId, io.closed);
        using listing = await storage.versions(session.userId, request.name);
        const pages = listing.pages[Symbol.asyncIterator]();
        const first = await pages.next();
        if (first.done) {
          return await respond(io, { status: StatusV2.FileNotFound, name: request.name });
        }
        record.bytes = await sendEntries(pages, io, first.value);
        return StatusV2.EntriesSent;
      }
    }
  }

  async #hello(io: TransferIo): Promise<number> {
    if (this.#nonce) throw new ProtocolError("a second Hello in one session");
    this.#nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    return await respond(io, { status: StatusV2.Challenge, nonce: this.#nonce });
  }

  async #auth(request: RequestV2 & { op: typeof OpV2.Auth }, io: TransferIo): Promise<number> {
    if (!this.#nonce || this.#session) throw new ProtocolError("Auth without a Hello before it");
    const { access, throttle, peerHost } = this.#ctx;
    try {
      this.#session = access.authenticate(request, this.#nonce);
    } catch (error) {
      if (!(error instanceof AuthFailedError)) throw error;
      const decision = throttle.failed(peerHost);
      await this.#ctx.sleep(decision.delayMs);
      throw new ThrottledAuthError(error, decision.log, decision.failures, decision.suppressed);
    }
    throttle.succeeded(peerHost);
    // Clients send their first request right behind Auth: the 221 goes out with its answer.
    const status = StatusV2.Authenticated;
    io.defer(encodeResponseV2({ status, appendOnly: this.#session.appendOnly }));
    return status;
  }

  /**
   * The session, if it may act for `userId`, as the accounts in force now see it (a reload since
   * the last request looks the account up again: a new append-only setting applies at once).
   *
   * @throws {ForbiddenError} and the connection closes.
   * @throws {SessionRevokedError} if its key or account was removed; the connection closes.
   */
  #authorize(userId: number): Session {
    if (!this.#session) throw new ForbiddenError("request before authentication", true);
    if (userId !== this.#session.userId) {
      throw new ForbiddenError(
        `request for user ${userId} on a connection authenticated as user ${this.#session.userId}`,
        true,
      );
    }
    this.#session = this.#ctx.access.refresh(this.#session);
    return this.#session;
  }

  /**
   * Checks the signed-in session against the accounts in force now (one comparison while no
   * reload happened); see `TransferIo.checkSession`. Does nothing before sign-in.
   *
   * @throws {SessionRevokedError} if its key or account was removed.
   */
  checkSession(): void {
    if (this.#session) this.#session = this.#ctx.access.refresh(this.#session);
  }
}

/** Reads a version 2 upload's trailer: its SHA-256. */
export function parseDigest(
  bytes: Uint8Array,
): { sha256: Uint8Array; byteLength: number } | undefined {
  if (bytes.length < DIGEST_TRAILER_SIZE) return undefined;
  return { sha256: bytes.slice(0, DIGEST_TRAILER_SIZE), byteLength: DIGEST_TRAILER_SIZE };
}

async function respond(io: TransferIo, response: Parameters<typeof encodeResponseV2>[0]) {
  await io.write(encodeResponseV2(response));
  return response.status;
}

/**
 * Sends the 211 and streams entries through one pooled buffer, then the end mark, the header in
 * the same write as the first entries (one small write after another would wait for an ACK).
 * Resolves the entries' bytes sent.
 */
async function sendEntries(
  pages: AsyncIterator<VersionRecord[]>,
  io: TransferIo,
  first?: VersionRecord[],
): Promise<number> {
  const buffer = io.buffers.acquire(0);
  const head = encodeResponseV2({ status: StatusV2.EntriesSent });
  buffer.set(head);
  let filled = head.length;
  let sent = -head.length;
  const write = listWriter(io); // held to the transfer-rate floor, as a download is
  let begun = false;
  const flush = async () => {
    io.checkSession(); // a revoked session is refused before anything is out, else cut short
    begun = true;
    await write(buffer.subarray(0, filled));
    sent += filled;
    filled = 0;
  };
  try {
    let page = first ?? (await pages.next()).value;
    while (page) {
      io.checkSession(); // at each page: a revoked session's list stops here
      for (const record of page) {
        const entry = encodeEntry({ name: record.name, info: infoOf(record) });
        if (filled + entry.length > buffer.length) await flush();
        buffer.set(entry, filled);
        filled += entry.length;
      }
      const next = await pages.next();
      page = next.done ? undefined : next.value;
    }
    buffer.set(END_OF_ENTRIES, filled);
    filled += END_OF_ENTRIES.length;
    await flush();
    return sent;
  } catch (error) {
    // Part of the answer is out: the connection cannot carry another one.
    if (begun) throw new ConnectionLostError("list cut short", { cause: error });
    throw error;
  } finally {
    io.buffers.release(buffer);
  }
}

/** Storage's metadata as the wire's version information. */
function infoOf(metadata: FileMetadata & Partial<VersionRecord>): VersionInfo {
  return {
    versionId: metadata.versionId,
    size: metadata.size,
    mtimeMs: metadata.mtimeMs,
    mode: metadata.mode,
    storedMs: metadata.storedMs,
    endedMs: metadata.endedMs ?? null,
    deleted: metadata.deleted ?? false,
    sha256: metadata.sha256,
  };
}
