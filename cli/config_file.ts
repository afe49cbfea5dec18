import { UsageError } from "./flags.ts";

/** What `configFileArgs` accepts. */
export interface ConfigFileOptions {
  /** The program's flags, by name, with their type. */
  flags: Record<string, { type: "string" | "boolean" }>;
  /** Flags a config file may not set. */
  excluded: Set<string>;
}

/**
 * Turns a JSON config file (`{"root": "/srv/backup", "port": 1234, "quiet": true}`, keys named as the
 * flags) into flags. @throws {UsageError} for unreadable JSON, unknown keys or values of the wrong type.
 */
export function configFileArgs(
  path: string,
  read: (path: string) => string,
  options: ConfigFileOptions,
): string[] {
  const { flags, excluded } = options;
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new UsageError(`cannot read ${path}: run with --allow-read=${path}`);
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`config file ${path} not found`);
    }
    throw new UsageError(`cannot read ${path}: ${error instanceof Error ? error.message : error}`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new UsageError(`${path} must hold a JSON object of settings`);
  }
  const args: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const flag = flags[key];
    if (!flag || excluded.has(key)) {
      throw new UsageError(`unknown setting "${key}" in ${path}`);
    }
    if (flag.type === "boolean") {
      if (typeof value !== "boolean") {
        throw new UsageError(`"${key}" in ${path} must be true or false`);
      }
      if (value) args.push(`--${key}`);
    } else {
      if (typeof value !== "string" && typeof value !== "number") {
        throw new UsageError(`"${key}" in ${path} must be a string or a number`);
      }
      args.push(`--${key}=${value}`);
    }
  }
  return args;
}
