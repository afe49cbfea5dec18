/**
 * A request of either protocol version, as the connection parses and logs it.
 *
 * @module
 */
import { REQUEST_HEAD_SIZE } from "../protocol/constants.ts";
import { parseRequestHeader, type RequestHeader } from "../protocol/request.ts";
import { parseRequestV2, type RequestV2, startsSessionV2 } from "../protocol/v2/requests.ts";
import { V1_OP_NAMES } from "./requests_v1.ts";
import { V2_OP_NAMES } from "./requests_v2.ts";
import {
  type HandshakeRequestV3,
  parseHandshakeRequestV3,
  startsSessionV3,
} from "../protocol/v3/handshake.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import { describeRequestV3 } from "./requests_v3.ts";

/** A request of any version, as parsed. */
export type AnyRequest =
  | { version: 1; header: RequestHeader }
  | { version: 2; request: RequestV2 }
  | { version: 3; request: HandshakeRequestV3 | RequestV3 };

/**
 * Parses the next request of a connection speaking `version`; for the first request (`version`
 * undefined) its version byte and op decide (see `startsSessionV2`, `startsSessionV3`).
 * `undefined` while incomplete. Version 3 parses its handshake here; its session reads the rest.
 *
 * @throws what the version's parser throws for a broken frame.
 */
export function parseAnyRequest(
  bytes: Uint8Array,
  version: 1 | 2 | 3 | undefined,
): (AnyRequest & { byteLength: number }) | undefined {
  const speaks = version ??
    (bytes.length < REQUEST_HEAD_SIZE
      ? undefined
      : startsSessionV2(bytes)
      ? 2
      : startsSessionV3(bytes)
      ? 3
      : 1);
  if (speaks === undefined) return undefined;
  if (speaks === 3) {
    const parsed = parseHandshakeRequestV3(bytes);
    if (!parsed) return undefined;
    const { byteLength, ...request } = parsed;
    return { version: 3, request, byteLength };
  }
  if (speaks === 1) {
    const parsed = parseRequestHeader(bytes);
    return parsed && { version: 1, header: parsed.header, byteLength: parsed.byteLength };
  }
  const parsed = parseRequestV2(bytes);
  return parsed && { version: 2, request: parsed, byteLength: parsed.byteLength };
}

/** The fields of a request's log line: user id, op name, file name. */
export function describeRequest(
  request: AnyRequest | undefined,
): { userId?: number; op: string; name?: string } {
  if (!request) return { op: "-" };
  if (request.version === 1) {
    const { userId, op, name } = request.header;
    return { userId, op: V1_OP_NAMES[op], name: name || undefined };
  }
  if (request.version === 3) return describeRequestV3(request.request);
  const { userId, op } = request.request;
  return { userId, op: V2_OP_NAMES[op], name: requestName(request) || undefined };
}

/** The file name a request names, `""` if none (what 1001 echoes). */
export function requestName(request: AnyRequest | undefined): string {
  if (!request) return "";
  if (request.version === 1) return request.header.name;
  if (request.version === 3) return "";
  return "name" in request.request ? request.request.name : "";
}
