/**
 * The requests a client has sent and not yet had answered, oldest first: version 3 answers come
 * strictly in request order, so each answer must carry the oldest outstanding tag and a status
 * that answers that request's op (or 1003, which answers any).
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { ANSWERS, StatusV3, type TaggedOpV3 } from "./constants.ts";

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { InFlightV3 } from "./in_flight.ts";
 * import assert from "node:assert/strict";
 * const inFlight = new InFlightV3();
 * inFlight.sent({ tag: 1, op: 10 });
 * inFlight.sent({ tag: 2, op: 12 });
 * assert.equal(inFlight.answered({ tag: 1, status: 230 }), 10);
 * assert.throws(() => inFlight.answered({ tag: 2, status: 230 }), /does not answer op 12/);
 * ```
 */
export class InFlightV3 {
  #queue: { tag: number; op: TaggedOpV3 }[] = [];
  #first = 0;

  /** Requests sent and not answered. */
  get size(): number {
    return this.#queue.length - this.#first;
  }

  /** Records a request as sent. */
  sent(request: { tag: number; op: TaggedOpV3 }): void {
    this.#queue.push({ tag: request.tag, op: request.op });
  }

  /**
   * Pairs an answer with the oldest request outstanding and returns that request's op.
   *
   * @throws {ProtocolError} for an answer to nothing, a tag that is not the oldest outstanding
   *   request's, or a status that does not answer its op.
   */
  answered(response: { tag: number; status: number }): TaggedOpV3 {
    const oldest = this.#queue[this.#first];
    if (!oldest) throw new ProtocolError(`an answer (tag ${response.tag}) to no request`);
    if (response.tag !== oldest.tag) {
      throw new ProtocolError(`an answer tagged ${response.tag} where ${oldest.tag} was due`);
    }
    const answers: readonly number[] = ANSWERS[oldest.op];
    if (response.status !== StatusV3.Refused && !answers.includes(response.status)) {
      throw new ProtocolError(`status ${response.status} does not answer op ${oldest.op}`);
    }
    this.#first++;
    // Compacted now and then, so that a long session neither grows nor shifts on every answer.
    if (this.#first === this.#queue.length) {
      this.#queue = [];
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#first);
      this.#first = 0;
    }
    return oldest.op;
  }
}
