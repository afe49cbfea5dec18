/**
 * The data of the repository comparison (`bench/repository.ts`): a file of random bytes, a change
 * in its middle, and a compressible corpus of log lines and JSON records, made the same way in every
 * run.
 *
 * @module
 */
import { zstdCompressSync } from "node:zlib";

const MiB = 2 ** 20;

/** Writes `size` random bytes (incompressible, no repeats) to a new file at `path`. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const buffer = new Uint8Array(MiB);
  for (let written = 0; written < size; written += buffer.length) {
    fillRandom(buffer);
    const part = buffer.subarray(0, Math.min(buffer.length, size - written));
    for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
  }
}

/**
 * Overwrites 1 MiB of the file in its middle with new random bytes, at an offset aligned to nothing
 * (a store that cuts fixed blocks gets no help). Resolves the offset.
 */
export async function overwriteMiddle(path: string, size: number): Promise<number> {
  const offset = Math.max(0, Math.floor(size / 2) - MiB / 2 + 4099);
  const bytes = fillRandom(new Uint8Array(Math.min(MiB, size - offset)));
  using file = await Deno.open(path, { write: true });
  await file.seek(offset, Deno.SeekMode.Start);
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
  return offset;
}

/** `crypto.getRandomValues` fills at most 64 KiB a call. */
function fillRandom(buffer: Uint8Array): Uint8Array {
  for (let at = 0; at < buffer.length; at += 65536) {
    crypto.getRandomValues(buffer.subarray(at, Math.min(buffer.length, at + 65536)));
  }
  return buffer;
}

/** A small seeded generator (mulberry32): the same corpus in every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const hex = (digits: number) => {
    let text = "";
    while (text.length < digits) text += int(0x10000).toString(16).padStart(4, "0");
    return text.slice(0, digits);
  };
  return { next, int, pick, hex };
}

type Random = ReturnType<typeof generator>;

const METHODS = ["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"] as const;
const ROUTES = [
  "/api/v1/users/{id}",
  "/api/v1/users/{id}/orders",
  "/api/v1/orders/{id}",
  "/api/v1/orders/{id}/items?page={n}",
  "/api/v1/products?category={word}&page={n}",
  "/api/v1/search?q={word}+{word}",
  "/static/js/app.{hex}.js",
  "/healthz",
] as const;
const STATUSES = [200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 500] as const;
const WORDS = [
  "shoes",
  "garden",
  "kitchen",
  "laptop",
  "coffee",
  "bicycle",
  "camera",
  "books",
  "lamp",
  "chair",
  "tent",
  "watch",
] as const;
const AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
  "curl/8.5.0",
  "okhttp/4.12.0",
] as const;
const NAMES = ["Anna", "Ben", "Chloé", "David", "Emre", "Fatima", "Goran", "Hana", "Ivan", "Jun"];
const SURNAMES = ["Schmidt", "Rossi", "García", "Nowak", "Dubois", "Yilmaz", "Kowalski", "Tanaka"];
const COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "TR", "JP", "US", "GB", "NL"] as const;
const ORDER_STATES = [
  "pending",
  "paid",
  "shipped",
  "shipped",
  "delivered",
  "delivered",
  "returned",
];

/** One access-log line, with now and then an error and its stack. */
function logLine(random: Random, time: number): string {
  const stamp = new Date(time).toISOString();
  const route = random.pick(ROUTES)
    .replace("{id}", String(1000 + random.int(90000)))
    .replace("{n}", String(1 + random.int(20)))
    .replaceAll("{word}", () => random.pick(WORDS))
    .replace("{hex}", random.hex(8));
  const status = random.pick(STATUSES);
  const line = `${stamp} ${status >= 500 ? "ERROR" : status >= 400 ? "WARN " : "INFO "} [http-${
    random.int(16)
  }] ${random.pick(METHODS)} ${route} ${status} ${(random.next() * 80).toFixed(1)}ms ip=10.${
    random.int(4)
  }.${random.int(256)}.${random.int(256)} req=${random.hex(16)} ua="${random.pick(AGENTS)}"\n`;
  if (status !== 500) return line;
  return line + `${stamp} ERROR [http-${random.int(16)}] unhandled: connection reset by peer\n` +
    "    at Socket.onRead (src/net/socket.ts:212:11)\n" +
    "    at Pool.acquire (src/db/pool.ts:88:17)\n" +
    `    at OrdersRepository.find (src/orders/repository.ts:${40 + random.int(60)}:9)\n`;
}

/** One order as a JSON record. */
function orderRecord(random: Random, id: number, time: number): string {
  const first = random.pick(NAMES);
  const last = random.pick(SURNAMES);
  const items = Array.from({ length: 1 + random.int(4) }, () => ({
    sku: `SKU-${String(random.int(5000)).padStart(5, "0")}`,
    name: `${random.pick(WORDS)} ${random.pick(WORDS)}`,
    qty: 1 + random.int(3),
    price: Math.round(random.next() * 20000) / 100,
  }));
  return JSON.stringify({
    id,
    created: new Date(time).toISOString(),
    customer: {
      id: 10000 + random.int(50000),
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}@example.com`,
      country: random.pick(COUNTRIES),
    },
    items,
    status: random.pick(ORDER_STATES),
    total: Math.round(items.reduce((sum, item) => sum + item.qty * item.price, 0) * 100) / 100,
    session: random.hex(24),
  }) + "\n";
}

/** What `writeCorpus` wrote. */
export interface Corpus {
  bytes: number;
  files: string[];
  /** The corpus's files compressed one by one with zstd (level 3, `node:zlib`): a reference. */
  zstdBytes: number;
}

/**
 * Writes at least `size` bytes of text under `dir`: access logs (60%) and JSON-lines order records
 * (40%), in files of about 1/16 of the whole, from a fixed seed.
 */
export async function writeCorpus(dir: string, size: number): Promise<Corpus> {
  await Deno.mkdir(dir, { recursive: true });
  const random = generator(21);
  const encoder = new TextEncoder();
  const perFile = Math.max(64 * 1024, Math.ceil(size / 16));
  const files: string[] = [];
  let bytes = 0;
  let zstdBytes = 0;
  let time = Date.UTC(2026, 10, 1);
  let orderId = 500000;
  for (let n = 0; bytes < size; n++) {
    const logs = n % 5 < 3;
    const name = logs ? `app-${n}.log` : `orders-${n}.jsonl`;
    const parts: Uint8Array[] = [];
    let fileBytes = 0;
    while (fileBytes < perFile) {
      let text = "";
      while (text.length < 256 * 1024) {
        time += random.int(400);
        text += logs ? logLine(random, time) : orderRecord(random, orderId++, time);
      }
      const part = encoder.encode(text);
      parts.push(part);
      fileBytes += part.length;
    }
    const whole = new Uint8Array(fileBytes);
    let at = 0;
    for (const part of parts) whole.set(part, (at += part.length) - part.length);
    await Deno.writeFile(`${dir}/${name}`, whole);
    zstdBytes += zstdCompressSync(whole).length;
    files.push(name);
    bytes += fileBytes;
  }
  return { bytes, files, zstdBytes };
}

/** Bytes of every file under `path` (sizes, not blocks), following no links. */
export async function treeBytes(path: string): Promise<number> {
  // A store may remove a temporary file between the listing and the stat: it counts as gone.
  const info = await Deno.lstat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (!info) return 0;
  if (!info.isDirectory) return info.isFile ? info.size : 0;
  let total = 0;
  for await (const entry of Deno.readDir(path)) total += await treeBytes(`${path}/${entry.name}`);
  return total;
}
