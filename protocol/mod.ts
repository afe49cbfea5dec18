/**
 * The pure codec of the backup protocol: version 1 (the original's) and version 2 (authenticated
 * sessions, uploads with their SHA-256, metadata and past versions). No I/O happens here.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./errors.ts";
export { encodeName, validateName } from "./names.ts";
export {
  encodeRequestHeader,
  opHasName,
  type ParsedRequestHeader,
  parseRequestHeader,
  type RequestHeader,
  type RequestHeaderInit,
} from "./request.ts";
export {
  encodeResponseHeader,
  fieldsOf,
  type ParsedResponseHeader,
  parseResponseHeader,
  type ResponseHeader,
  type ResponseHeaderInit,
  type StatusFields,
} from "./response.ts";
export { decodeList, encodeList, randomListName } from "./list.ts";
export * from "./v2/mod.ts";
