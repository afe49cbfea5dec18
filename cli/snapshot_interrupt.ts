/**
 * What Ctrl-C does while a snapshot command runs: the command registers a handler that says what
 * happened (and may stop its work itself); the client's signal listener asks it first.
 *
 * @module
 */

/** Returns true if it will end the command itself (the listener then does not exit). */
export type InterruptHandler = () => boolean;

let current: InterruptHandler | undefined;

/**
 * Makes `handler` the one Ctrl-C runs; resolves a function that removes it again.
 *
 * @example
 * ```ts
 * import { interrupt, onInterrupt } from "./snapshot_interrupt.ts";
 * import assert from "node:assert/strict";
 * const release = onInterrupt(() => true);
 * assert.equal(interrupt(), true);
 * release();
 * assert.equal(interrupt(), false);
 * ```
 */
export function onInterrupt(handler: InterruptHandler): () => void {
  current = handler;
  return () => {
    if (current === handler) current = undefined;
  };
}

/** Runs the handler registered, if any: true if the command ends itself. */
export function interrupt(): boolean {
  return current?.() ?? false;
}
