/**
 * `pkgnx.config.json`: one JSON file at the workspace root, one section per job (`upstream`, `publish`, ...).
 * Every section is read with the one OptionsReader, so an error names the file and the full key path
 * (`pkgnx.config.json: publish.s3.endpoint: ...`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { OptionsError, OptionsReader } from './options';

export const CONFIG_FILE_NAME = 'pkgnx.config.json';

export class ConfigError extends OptionsError {
  constructor(
    readonly file: string,
    readonly key: string,
    message: string,
  ) {
    super(`${file}: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The parsed file; `section` names what was being looked for in the not-found message. */
export function readConfigFile(file: string, section: string): Record<string, unknown> {
  if (!existsSync(file)) throw new ConfigError(file, section, 'configuration file not found');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '(file)', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new ConfigError(file, '(file)', 'expected a JSON object');
  return parsed;
}

/** A reader over one section's object whose errors are ConfigErrors naming `<section>.<key>`. */
export function sectionReader(raw: unknown, file: string, section: string): OptionsReader {
  if (!isObject(raw)) throw new ConfigError(file, section, 'expected an object');
  return new OptionsReader(raw, { describe: (k) => k, error: (k, problem) => new ConfigError(file, `${section}.${k}`, problem) });
}

/** The raw value of a section that must be there. */
export function readSection(file: string, section: string): unknown {
  const parsed = readConfigFile(file, section);
  if (parsed[section] === undefined) throw new ConfigError(file, section, 'missing key');
  return parsed[section];
}
