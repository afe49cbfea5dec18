/**
 * One connection's version 1 and 2 requests: each is answered in full by `handleV1` or the
 * connection's `SessionV2`, which this keeps (with the plain-upload guard both share) from the
 * first request to the connection's end.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { ForbiddenError } from "./access.ts";
import type { AnyRequest } from "./any_request.ts";
import type { ConnectionContext } from "./connection_context.ts";
import { PlainUploadGuard } from "./plain_uploads.ts";
import { handleV1 } from "./requests_v1.ts";
import { parseDigest, SessionV2 } from "./requests_v2.ts";
import type { ByteCount, TransferIo } from "./transfers.ts";
import type { Deadline } from "./watchdog.ts";

/** A request of version 1 or 2 (version 3 has a session of its own, `session_v3.ts`). */
export type RequestV1OrV2 = Exclude<AnyRequest, { version: 3 }>;

/** What `RequestsV1V2` needs of its connection. */
export interface RequestsV1V2Options {
  /** The connection's reader, writer and transfer deadlines. */
  io: TransferIo;
  /** The connection's deadline, armed while an upload's digest arrives. */
  deadline: Deadline;
  /** The client's host, without the port: failed handshakes are slowed down per host. */
  peerHost: string;
  /** Refuse version 2 with this message (see `ConnectionOptions.refuseV2`). */
  refuseV2?: string;
  /** Called after each version 2 request once the handshake is complete. */
  handshakeDone(): void;
  /** Waits with the deadline disarmed (the handshake throttle's delays). */
  sleep(ms: number): Promise<void>;
}

/** See the module comment. One per connection. */
export class RequestsV1V2 {
  readonly #ctx: ConnectionContext;
  readonly #options: RequestsV1V2Options;
  #v2: SessionV2 | undefined;
  /** Whether the users this connection uploads for may store files one by one. */
  #plainUploads: PlainUploadGuard | undefined;

  /**
   * @param ctx what every connection of the server shares
   * @param options the connection's helpers
   */
  constructor(ctx: ConnectionContext, options: RequestsV1V2Options) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** True once a version 2 Hello was answered and Auth is awaited. */
  get inHandshake(): boolean {
    return this.#v2?.inHandshake ?? false;
  }

  /**
   * Checks a signed-in version 2 session against the accounts in force now (see
   * `TransferIo.checkSession`). Does nothing for version 1 or before sign-in.
   *
   * @throws {SessionRevokedError} if its key or account was removed.
   */
  checkSession(): void {
    this.#v2?.checkSession();
  }

  /**
   * Carries out one request; resolves the status it answered with. `record.bytes` counts the
   * payload bytes moved, for the log line.
   *
   * @throws {ForbiddenError} for a version 2 request where `refuseV2` is set; what the request
   *   failed with (turned into an answer by `outcomeForError`).
   */
  async handle(request: RequestV1OrV2, record: ByteCount): Promise<number> {
    const { storage, access, limits, listTurns } = this.#ctx;
    const { io, refuseV2 } = this.#options;
    const plainUploads = this.#plainUploads ??= new PlainUploadGuard(storage.snapshots);
    const context = { storage, access, maxFileSize: limits.maxFileSize, listTurns, plainUploads };
    if (request.version === 1) return await handleV1(request.header, io, context, record);
    if (refuseV2) throw new ForbiddenError(refuseV2, true);
    this.#v2 ??= new SessionV2({
      ...context,
      throttle: this.#ctx.throttle,
      peerHost: this.#options.peerHost,
      readDigest: () => this.#readDigest(),
      sleep: (ms) => this.#options.sleep(ms),
    });
    const status = await this.#v2.handle(request.request, io, record);
    if (!this.#v2.inHandshake) this.#options.handshakeDone();
    return status;
  }

  async #readDigest(): Promise<Uint8Array> {
    this.#options.deadline.arm(this.#ctx.limits.frameTimeoutMs, "digest stalled");
    const parsed = await this.#options.io.reader.readFrame(parseDigest, "upload digest");
    if (!parsed) throw new ConnectionLostError("the client closed before the upload's digest");
    return parsed.sha256;
  }
}
