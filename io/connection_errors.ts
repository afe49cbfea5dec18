import { BackupError } from "../common/backup_error.ts";

/** The peer went away or the stream broke: nothing more can be sent or received on this connection. */
export class ConnectionLostError extends BackupError {}

/** Whether an error means the socket itself failed (reset, broken pipe, closed under us). */
export function isSocketFailure(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.BadResource;
}
