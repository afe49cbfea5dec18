/**
 * The sign-in and the answers of a version 2 session over one connection: Hello, the server's
 * Challenge, the signed Auth sent without waiting for its answer, that answer read ahead of the
 * first request's, and every answer's status checked against what its request expects.
 *
 * @module
 */
import { FileNotFoundError, ProtocolError } from "../protocol/errors.ts";
import { OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { parseResponseV2, type ResponseV2 } from "../protocol/v2/responses.ts";
import { ServerRefusedError } from "./client_errors.ts";
import type { ClientWire } from "./client_wire.ts";
import type { ClientKey } from "./keys.ts";
import { authFrame } from "./session_frames.ts";

/** Who a `SessionV2` signs in as. */
export interface SessionV2Options {
  /** The user id to authenticate as. */
  userId: number;
  /** The key that proves it. */
  key: ClientKey;
}

/**
 * The session state of a version 2 client: whether its key was accepted, whether the account is
 * append-only, and whether the Auth answer is still to be read. It outlives each connection of
 * its wire: `signIn` runs again on every new one.
 *
 * @example
 * ```ts ignore
 * const session = new SessionV2(wire, { userId: 77, key });
 * await session.signIn(); // on a freshly attached connection
 * await wire.send(request);
 * session.expect(await session.read(), StatusV2.Done, name, `delete of ${name}`);
 * ```
 */
export class SessionV2 {
  readonly #wire: ClientWire;
  readonly #options: SessionV2Options;
  #authPending = false;
  #authenticated = false;
  #appendOnly = false;

  /** A session over `wire`, signing in as `options.userId` with `options.key`. */
  constructor(wire: ClientWire, options: SessionV2Options) {
    this.#wire = wire;
    this.#options = options;
  }

  /** True if the server said this account may not delete or replace files. */
  get appendOnly(): boolean {
    return this.#appendOnly;
  }

  /** True once the server has accepted the key for this user id (with a first request's answer). */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /**
   * Says Hello, signs the nonce and sends Auth without waiting for its answer (`read` takes it
   * ahead of the next request's: a round trip fewer per connection).
   *
   * @throws {ServerRefusedError} if the server refuses the Hello; {ProtocolError}; network errors.
   */
  async signIn(): Promise<void> {
    const { userId, key } = this.#options;
    await this.#wire.send(encodeRequestV2({ op: OpV2.Hello, userId }));
    const challenge = await this.#wire.readFrame(parseResponseV2, "response header");
    this.expect(challenge, StatusV2.Challenge, "", "handshake");
    await this.#wire.send(await authFrame(userId, key, (challenge as { nonce: Uint8Array }).nonce));
    this.#authPending = true;
  }

  /**
   * The next response, after the Auth answer if it is still to come.
   *
   * @throws {ServerRefusedError} if the server refused the key (the connection is closed).
   */
  async read(): Promise<ResponseV2> {
    if (this.#authPending) {
      const answer = await this.#wire.readFrame(parseResponseV2, "response header");
      this.#authPending = false;
      this.expect(
        answer,
        StatusV2.Authenticated,
        "",
        `key of user ${this.#options.userId}`,
        true,
      );
      this.#authenticated = true;
      this.#appendOnly = (answer as { appendOnly: boolean }).appendOnly;
    }
    return await this.#wire.readFrame(parseResponseV2, "response header");
  }

  /**
   * The next response (after the Auth answer if it is still to come), checked by `expect`.
   *
   * @throws {FileNotFoundError}; {ServerRefusedError}; {ProtocolError} for another status.
   */
  async readExpected(expected: number, name: string, what: string): Promise<ResponseV2> {
    const response = await this.read();
    this.expect(response, expected, name, what);
    return response;
  }

  /**
   * Turns a status other than the expected one into the matching error; a refusal also closes
   * the connection.
   *
   * @param name the file the request is about ("" for none), for a `FileNotFoundError`
   * @param what the request, as a refusal's message names it
   * @param signIn true if a refusal is of the sign-in itself
   * @throws {FileNotFoundError}; {ServerRefusedError}; {ProtocolError} for any other status.
   */
  expect(response: ResponseV2, expected: number, name: string, what: string, signIn = false): void {
    if (response.status === expected) return;
    if (response.status === StatusV2.FileNotFound) throw new FileNotFoundError(name);
    if (response.status === StatusV2.Refused) {
      this.#wire.close();
      throw new ServerRefusedError(response.code, response.message, what, signIn);
    }
    throw new ProtocolError(`expected status ${expected}, got ${response.status}`);
  }
}
