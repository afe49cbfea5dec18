/**
 * Version 3 requests after the handshake: version 1's head (user id 4, version 1 = 3, op 1), a tag
 * u32, fixed fields (the head), then a body whose length the head declares (ids, a blob's refs and
 * bytes, a snapshot record). A reader parses the head with `parseRequestHeadV3` (its buffer needs
 * `MAX_REQUEST_HEAD_SIZE_V3` bytes), reads `bodyLength` bytes, checked against the limits before it
 * is returned, and completes the request with `decodeRequestBodyV3`. See docs/protocol.md.
 *
 * @module
 */
export * from "./request_types.ts";
export * from "./request_decode.ts";
export * from "./request_encode.ts";
