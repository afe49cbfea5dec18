/**
 * Which deadline a connection arms while it waits for a request header or completes its handshake:
 * the idle timeout until a header's first byte, then the frame timeout; with a handshake under way,
 * the handshake's own deadline instead.
 *
 * @module
 */
import { OpV2 } from "../protocol/v2/constants.ts";
import type { AnyRequest } from "./any_request.ts";
import type { ServerLimits } from "./limits.ts";
import type { Deadline } from "./watchdog.ts";

/** What `HeaderDeadlines` needs to know of its server. */
export interface HeaderDeadlinesOptions {
  /** The operator's limits: idle and frame timeouts. */
  limits: ServerLimits;
  /**
   * Whether clients must sign in. A socket that has not signed in is then worth nothing and holds
   * a slot: it gets the frame timeout from the accept, not the idle timeout (every client sends at
   * once).
   */
  accountsRequired: boolean;
}

/**
 * The header and handshake deadlines of one connection, armed on its `Deadline`.
 *
 * @example
 * ```ts
 * import { HeaderDeadlines } from "./header_deadlines.ts";
 * import { resolveLimits } from "./limits.ts";
 * import assert from "node:assert/strict";
 * const armed: string[] = [];
 * const deadline = {
 *   arm: (_ms: number, reason: string) => void armed.push(reason),
 *   disarm() {},
 *   release() {},
 * };
 * const limits = resolveLimits({ idleTimeoutMs: 60_000, frameTimeoutMs: 5_000 });
 * const deadlines = new HeaderDeadlines(deadline, { limits, accountsRequired: false });
 * const onHeaderProgress = deadlines.armForHeader();
 * onHeaderProgress(false); // waiting for the first byte
 * onHeaderProgress(true); // the header has begun
 * onHeaderProgress(true); // more of it: the frame timeout is not restarted
 * assert.deepEqual(armed, ["idle timeout", "frame timeout"]);
 * ```
 */
export class HeaderDeadlines {
  readonly #deadline: Deadline;
  readonly #limits: ServerLimits;
  /**
   * When the handshake must be complete, while one is under way: from Hello's first byte, or with
   * accounts from the accept (TLS, Hello and Auth, or a version 1 client's first request).
   */
  #handshakeDueAt: number | undefined;
  /** When the first byte of the header being read arrived, if it did not come whole. */
  #headerStartedAt: number | undefined;

  /** @param deadline the connection's deadline from the server's watchdog */
  constructor(deadline: Deadline, options: HeaderDeadlinesOptions) {
    this.#deadline = deadline;
    this.#limits = options.limits;
    const { frameTimeoutMs } = options.limits;
    if (options.accountsRequired && frameTimeoutMs > 0) {
      this.#handshakeDueAt = performance.now() + frameTimeoutMs;
    }
  }

  /** Arms a TLS handshake's deadline: the frame timeout, or what is left of the handshake's. */
  armForTlsHandshake(): void {
    const due = this.#handshakeDueAt;
    const ms = due === undefined
      ? this.#limits.frameTimeoutMs
      : Math.max(1, due - performance.now());
    this.#deadline.arm(ms, "TLS handshake timeout");
  }

  /**
   * The deadline while a header arrives, as a callback for `BufferedReader.readFrame`, called with
   * whether the header has begun: the idle timeout until its first byte, then the frame timeout
   * once, counted from that byte (never restarted by later bytes). Between Hello and Auth, the
   * handshake's own deadline, counted from Hello's first byte. Call once per header.
   */
  armForHeader(): (begun: boolean) => void {
    const limits = this.#limits;
    this.#headerStartedAt = undefined;
    let frameArmed = false;
    return (begun) => {
      if (this.#handshakeDueAt !== undefined) {
        this.#deadline.arm(
          Math.max(1, this.#handshakeDueAt - performance.now()),
          "handshake timeout",
        );
      } else if (!begun) {
        this.#deadline.arm(limits.idleTimeoutMs, "idle timeout");
      } else if (!frameArmed) {
        frameArmed = true;
        this.#headerStartedAt = performance.now();
        this.#deadline.arm(limits.frameTimeoutMs, "frame timeout");
      }
    };
  }

  /**
   * Takes note of a request read in full at `readAt` (`performance.now()`): a version 2 or 3 Hello
   * starts the handshake's deadline from its first byte; a version 1 request ends it.
   */
  requestRead(request: AnyRequest, readAt: number): void {
    const { frameTimeoutMs } = this.#limits;
    // Version 3's Hello is version 2's (op 1): its handshake has the same deadline.
    const hello = request.version !== 1 && request.request.op === OpV2.Hello;
    if (hello && frameTimeoutMs > 0) {
      const firstByteAt = this.#headerStartedAt ?? readAt;
      this.#handshakeDueAt = Math.min(
        this.#handshakeDueAt ?? Infinity,
        firstByteAt + frameTimeoutMs,
      );
    }
    // A version 1 client has no handshake: its first request, here in full, was its sign-in.
    if (request.version === 1) this.#handshakeDueAt = undefined;
  }

  /** The handshake is complete: from now on the idle and frame timeouts apply. */
  handshakeDone(): void {
    this.#handshakeDueAt = undefined;
  }
}
