/**
 * A version 3 connection's handshake: version 2's (Hello, 220 with a nonce, Auth signed over it,
 * 221), with version byte 3, the version 3 context string in the signed message, and the same
 * accounts, throttle and deadlines. Refused at the Hello on a plain port beside TLS (as version 2)
 * and by a store that keeps no snapshots.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import { NONCE_SIZE } from "../protocol/v2/constants.ts";
import { OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import {
  authMessageV3,
  encodeHandshakeResponseV3,
  type HandshakeRequestV3,
  type HelloRequestV3,
  parseHandshakeRequestV3,
} from "../protocol/v3/handshake.ts";
import { writeAll } from "../io/byte_stream.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import type { BufferedReader } from "../io/buffered_reader.ts";
import type { SnapshotRepository } from "../storage/snapshots.ts";
import type { Storage } from "../storage/storage.ts";
import { type Access, AuthFailedError, ForbiddenError, type Session } from "./access.ts";
import type { HandshakeThrottle } from "./handshake_throttle.ts";
import type { ServerLimits } from "./limits.ts";
import { ThrottledAuthError } from "./requests_v2.ts";
import { NoSnapshotsError } from "./requests_v3.ts";
import type { Deadline } from "./watchdog.ts";

/** What the handshake needs of its connection and server. */
export interface HandshakeV3Context {
  conn: Deno.Conn;
  reader: BufferedReader;
  deadline: Deadline;
  storage: Storage;
  access: Access;
  throttle: HandshakeThrottle;
  limits: ServerLimits;
  /** The peer's host, without the port: failed handshakes are slowed down per host. */
  peerHost: string;
  /** Refuse the session with this message (a plain port beside TLS). */
  refuse?: string;
  /** The deadline while the Auth arrives (the connection's `HeaderDeadlines.armForHeader`). */
  armForHeader(): (begun: boolean) => void;
  /** Waits; the throttle's delays go through it. */
  sleep(ms: number): Promise<void>;
  /** Logs a handshake request that was answered. */
  answered(request: HandshakeRequestV3, status: number, started: number): void;
}

/** A signed-in version 3 session, or the client closed before its Auth. */
export type HandshakeV3Result =
  | { repository: SnapshotRepository; session: Session }
  | { closed: true };

/**
 * Answers the Hello, reads and checks the Auth, answers it.
 *
 * @throws {ForbiddenError} on a port that refuses version 2 and 3, {NoSnapshotsError} for a store
 *   without snapshots, {ProtocolError} for anything but an Auth next, {ThrottledAuthError} for a
 *   failed sign-in (after the throttle's delay); the request that failed is in `current.request`.
 */
export async function handshakeV3(
  ctx: HandshakeV3Context,
  hello: HelloRequestV3,
  current: { request: HandshakeRequestV3; started: number },
): Promise<HandshakeV3Result> {
  if (ctx.refuse) throw new ForbiddenError(ctx.refuse, true);
  const repository = ctx.storage.snapshots;
  if (!repository) throw new NoSnapshotsError();
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  await send(ctx, encodeHandshakeResponseV3({ status: StatusV3.Challenge, nonce }));
  ctx.answered(hello, StatusV3.Challenge, current.started);
  const auth = await ctx.reader.readFrame(
    parseHandshakeRequestV3,
    "request header",
    ctx.armForHeader(),
  );
  if (!auth) return { closed: true };
  const { byteLength: _, ...request } = auth;
  current.request = request;
  current.started = performance.now();
  if (request.op !== OpV3.Auth) throw new ProtocolError("a second Hello in one session");
  let session: Session;
  try {
    session = ctx.access.authenticate(request, nonce, authMessageV3);
  } catch (error) {
    if (!(error instanceof AuthFailedError)) throw error;
    const decision = ctx.throttle.failed(ctx.peerHost);
    await ctx.sleep(decision.delayMs);
    throw new ThrottledAuthError(error, decision.log, decision.failures, decision.suppressed);
  }
  ctx.throttle.succeeded(ctx.peerHost);
  const status = StatusV3.Authenticated;
  await send(ctx, encodeHandshakeResponseV3({ status, appendOnly: session.appendOnly }));
  ctx.answered(request, status, current.started);
  return { repository, session };
}

async function send(ctx: HandshakeV3Context, bytes: Uint8Array): Promise<void> {
  ctx.deadline.arm(ctx.limits.frameTimeoutMs, "client stopped reading");
  try {
    await writeAll(ctx.conn, bytes);
  } catch (error) {
    throw new ConnectionLostError("client went away during the handshake", { cause: error });
  } finally {
    ctx.deadline.disarm();
  }
}
