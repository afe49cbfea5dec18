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
