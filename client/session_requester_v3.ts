/**
 * What every request of a version 3 session goes through (`SessionV3`, client/session_v3.ts): its
 * pipeline, the user it acts for, and the codec its blobs and records are named, sent and checked
 * with. The snapshot and key slot requests (`snapshot_requests_v3.ts`, `key_slot_requests_v3.ts`)
 * take one.
 *
 * @module
 */
import { ProtocolError } from "../protocol/errors.ts";
import type { TaggedOpV3 } from "../protocol/v3/constants.ts";
import { encodeRequestV3Parts, type RequestV3 } from "../protocol/v3/requests.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import { type BlobCodec, PLAIN_CODEC } from "./blob_wire_v3.ts";
import type { SealBrokenError } from "./repository_keys/errors.ts";
import type { EntrySink, PipelineV3 } from "./pipeline_v3.ts";

/** A request without its user id and tag, which the session fills in. */
export type Untagged<T> = T extends unknown ? Omit<T, "userId" | "tag"> : never;

/** See the module comment. */
export class SessionRequesterV3 {
  /** The connection's pipeline (the session owns it). */
  readonly pipeline: PipelineV3;
  /** The user id requests act for. */
  readonly userId: number;
  /** How blobs and records are named, sent and checked (`SessionV3.useCodec`). */
  codec: BlobCodec = PLAIN_CODEC;
  /** Told of a listed record that does not open with the codec's key (`SessionV3.useCodec`). */
  onUnreadable: ((id: string, error: SealBrokenError) => void) | undefined;

  /** Requests through `pipeline` as `userId`, with `PLAIN_CODEC` until told otherwise. */
  constructor(pipeline: PipelineV3, userId: number) {
    this.pipeline = pipeline;
    this.userId = userId;
  }

  /**
   * One request through the pipeline.
   *
   * @throws {ServerRefusedError} for a refusal; {ProtocolError}, {ConnectionLostError},
   *   {AnswerTimeoutError} when the connection ended (every call waiting gets the same error).
   */
  call(
    op: TaggedOpV3,
    bytes: number,
    request: Untagged<RequestV3>,
    entries?: EntrySink,
  ): Promise<ResponseV3> {
    return this.pipeline.call(
      op,
      bytes,
      (tag) => encodeRequestV3Parts({ ...request, userId: this.userId, tag } as RequestV3),
      entries,
    );
  }

  /** The server answered something its request cannot have: the session cannot go on. */
  broken(message: string): ProtocolError {
    const error = new ProtocolError(message);
    this.pipeline.abort(error);
    return error;
  }
}
