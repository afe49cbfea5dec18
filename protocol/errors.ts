/**
 * Typed errors shared by the codec, the server and the client. Which status each one becomes on the
 * wire is decided in one place: `server/error_status.ts`.
 *
 * @module
 */

/** A frame that breaks the protocol: unknown op, a length out of range, bytes that cannot be parsed. */
export class ProtocolError extends Error {
  /** Builds the error with a message that says what was expected and what was got. */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** A stream that ended before a frame or payload was complete. */
export class UnexpectedEofError extends ProtocolError {
  /**
   * Builds the error.
   * @param expected what was being read, e.g. "request header"
   */
  constructor(expected: string, options?: ErrorOptions) {
    super(`connection closed in the middle of the ${expected}`);
    this.name = "UnexpectedEofError";
    if (options?.cause) this.cause = options.cause;
  }
}

/** A file name refused by the rules of the protocol (see `validateName`). */
export class InvalidNameError extends ProtocolError {
  /**
   * Builds the error.
   * @param reason why the name is refused
   */
  constructor(reason: string) {
    super(`invalid file name: ${reason}`);
    this.name = "InvalidNameError";
  }
}

/** A request over a limit: the file size limit, the user's quota. */
export class LimitExceededError extends Error {
  /**
   * Builds the error.
   * @param message which limit and by how much
   */
  constructor(message: string) {
    super(message);
    this.name = "LimitExceededError";
  }
}

/** The named file does not exist for this user. */
export class FileNotFoundError extends Error {
  /**
   * Builds the error.
   * @param fileName the name as requested
   */
  constructor(readonly fileName: string) {
    super(`file does not exist: ${fileName}`);
    this.name = "FileNotFoundError";
  }
}

/** The user has no stored files. */
export class NoFilesError extends Error {
  /** Builds the error. */
  constructor() {
    super("this user has no files");
    this.name = "NoFilesError";
  }
}

/** A path under the root that storage refuses to follow: a symbolic link or a special file. */
export class UnsafePathError extends Error {
  /**
   * Builds the error.
   * @param message what was found where
   */
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

/** The server answered with the general error status (1003). */
export class ServerError extends Error {
  /**
   * Builds the error.
   * @param message what the request was
   */
  constructor(message: string) {
    super(message);
    this.name = "ServerError";
  }
}

/** The peer went away or the stream broke: nothing more can be sent or received on this connection. */
export class ConnectionLostError extends Error {
  /**
   * Builds the error.
   * @param message what was under way
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionLostError";
  }
}
