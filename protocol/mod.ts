/**
 * The pure codec of the backup protocol: constants, request and response headers, names and lists.
 * No I/O happens here.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./names.ts";
export * from "./request.ts";
export * from "./response.ts";
export * from "./list.ts";
