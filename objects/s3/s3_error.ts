/**
 * The S3 client's one error (`s3_client.ts`): an answer of the object store that is an error, with
 * its HTTP status and S3's error code, or no answer at all (status 0); and how one is read from an
 * error answer's XML body (`Code`, `Message`).
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { text, unescapeXml } from "./xml.ts";

/** An answer of the object store that is an error (or no answer at all). */
export class S3Error extends BackupError {
  /**
   * Builds the error.
   * @param status the HTTP status, 0 when there was no answer
   * @param code S3's error code (`NoSuchKey`, …) if it gave one
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The error of an answer with `status` whose body is `xml`, for `what` (the call and its key). */
export function errorFrom(status: number, xml: string, what: string): S3Error {
  const code = text(xml, "Code") ?? "";
  const message = text(xml, "Message") ?? unescapeXml(xml.slice(0, 200));
  return new S3Error(status, code, `${what}: ${status} ${code} ${message}`.trim());
}
