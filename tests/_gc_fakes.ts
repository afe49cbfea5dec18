/**
 * For the unit tests of the GC protocols (storage/s3/{pins,doom_view}.ts): a clock moved by hand
 * and an in-memory bucket on that clock, whose requests a test can hold, fail and count.
 *
 * @module
 */
import { S3Error } from "../objects/s3/s3_client.ts";
import type { ListedPage, RequestOptions } from "../objects/s3/s3_client.ts";
import type { GcClock } from "../storage/s3/gc_clock.ts";
import type { GcBucket } from "../storage/s3/gc_objects.ts";

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock that moves only when told; sleepers wake as the monotonic clock passes their time. */
export class ManualClock implements GcClock {
  wallMs = 1_796_000_000_000;
  monotonicMs = 0;
  readonly #sleepers = new Set<Sleeper>();

  now(): number {
    return this.wallMs;
  }

  monotonic(): number {
    return this.monotonicMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        at: this.monotonicMs + Math.max(0, ms),
        resolve: () => {
          this.#sleepers.delete(sleeper);
          resolve();
        },
      };
      this.#sleepers.add(sleeper);
      signal?.addEventListener("abort", sleeper.resolve, { once: true });
    });
  }

  /** Moves both clocks by `ms`, waking each sleeper at its time and letting it run. */
  async advance(ms: number): Promise<void> {
    const target = this.monotonicMs + ms;
    await settle();
    for (;;) {
      const next = [...this.#sleepers].filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#move(next.at - this.monotonicMs);
      next.resolve();
      await settle();
    }
    this.#move(target - this.monotonicMs);
    await settle();
  }

  /** A suspend of `ms`: the wall clock moves, the monotonic one and the timers do not. */
  suspend(ms: number): void {
    this.wallMs += ms;
  }

  #move(ms: number) {
    this.monotonicMs += ms;
    this.wallMs += ms;
  }
}

/** Lets every promise chain that can run, run (a few turns of the event loop). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A request the bucket saw. */
export interface BucketCall {
  method: "PUT" | "GET" | "DELETE" | "LIST";
  key: string;
  /** The clock's wall time when it was sent. */
  atMs: number;
  signedAt?: number;
  body?: Uint8Array;
}

/**
 * An in-memory bucket on `clock`: LastModified is the wall time of the PUT (rounded up to the
 * second, as Swift's listings are), a listing's Date is its wall time rounded down.
 */
export class MemoryBucket implements GcBucket {
  readonly objects = new Map<string, { body: Uint8Array; lastModifiedMs: number }>();
  readonly calls: BucketCall[] = [];
  /** Decides per request: undefined to answer, an error to fail it, a promise to hold it first. */
  gate: (call: BucketCall) => Error | Promise<void> | undefined = () => undefined;

  constructor(readonly clock: ManualClock) {}

  async put(key: string, body: Uint8Array, options: RequestOptions = {}): Promise<void> {
    await this.#pass({
      method: "PUT",
      key,
      atMs: this.clock.now(),
      signedAt: options.signedAt,
      body,
    });
    this.objects.set(key, { body, lastModifiedMs: Math.ceil(this.clock.now() / 1000) * 1000 });
  }

  async get(key: string): Promise<Response> {
    await this.#pass({ method: "GET", key, atMs: this.clock.now() });
    const object = this.objects.get(key);
    if (!object) throw new S3Error(404, "NoSuchKey", `GetObject ${key}: 404`);
    return new Response(object.body.slice());
  }

  async delete(key: string, options: RequestOptions = {}): Promise<void> {
    await this.#pass({ method: "DELETE", key, atMs: this.clock.now(), signedAt: options.signedAt });
    this.objects.delete(key);
  }

  async *list(prefix: string): AsyncGenerator<ListedPage> {
    await this.#pass({ method: "LIST", key: prefix, atMs: this.clock.now() });
    const page = [...this.objects].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) =>
      a < b ? -1 : 1
    ).map(([key, { body, lastModifiedMs }]) => ({ key, size: body.length, lastModifiedMs }));
    yield Object.assign(page, { dateMs: Math.floor(this.clock.now() / 1000) * 1000 });
  }

  /** The calls of `method` (on `key` if given). */
  callsOf(method: BucketCall["method"], key?: string): BucketCall[] {
    return this.calls.filter((call) =>
      call.method === method && (key === undefined || call.key === key)
    );
  }

  async #pass(call: BucketCall) {
    this.calls.push(call);
    const verdict = this.gate(call);
    if (verdict instanceof Error) throw verdict;
    if (verdict) await verdict;
  }
}

/** A promise and the function that resolves it: to hold a request until the test lets it go. */
export function latch(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => release = resolve);
  return { promise, release };
}
