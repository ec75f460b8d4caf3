/**
 * The one set of checks for values a user gives: the configuration file and
 * its variables (analytics-config.ts), the engine's and the capture's options
 * (checked again where they are used, for library callers), and command-line
 * options. Every refusal names where the value came from, shows the value and
 * says why:
 *
 *   options, variables   HT_ERR_OPTION  "<where>: <value as JSON, cut at 80> <reason>"
 *   command line         HT_ERR_USAGE   "--<option> <value>: <reason>"
 *
 * Depends on nothing but the error catalog, so any layer may use it.
 */
import { TracerError } from '../errors';

/** Values longer than this are cut in messages (a whole file pasted into one key must not flood the terminal). */
const MAX_SHOWN_CHARS = 80;

/** A value as messages show it: JSON, long ones cut. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS - 3)}...` : text;
}

/** HT_ERR_OPTION: "<where>: <value> <reason>". */
export function fail(where: string, value: unknown, reason: string): never {
  throw new TracerError('HT_ERR_OPTION', `${where}: ${shown(value)} ${reason}`);
}

/** HT_ERR_OPTION without the value (a secret, or nothing worth showing): "<where>: <reason>". */
export function refuse(where: string, reason: string): never {
  throw new TracerError('HT_ERR_OPTION', `${where}: ${reason}`);
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An integer, then its range: "must be an integer", "must be from 1 to 65535 seconds" (the configuration file's words). */
export function integer(where: string, v: unknown, min = -Infinity, max = Infinity, unit = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(where, v, 'must be an integer');
  if ((v as number) < min || (v as number) > max) fail(where, v, `must be from ${min} to ${max}${unit}`);
  return v as number;
}

/** An integer in a range, in one message: "must be an integer in [1, 64]" (the engine's and the capture's options). */
export function integerIn(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, v, `must be an integer in [${min}, ${max}]`);
  return v as number;
}

/** Histogram bucket bounds: 1 to `max` finite numbers above 0, strictly ascending (a copy). */
export function ascendingBounds(where: string, v: unknown, max: number): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) fail(where, v, `must be an array of 1 to ${max} numbers`);
  const bounds = v as unknown[];
  bounds.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0) fail(`${where}[${i}]`, b, 'must be a number above 0');
    if (i > 0 && b <= (bounds[i - 1] as number)) fail(`${where}[${i}]`, b, `must be above the bound before it (${bounds[i - 1] as number}): bounds go in ascending order`);
  });
  return [...(bounds as number[])];
}

export function strings(where: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(where, v, 'must be an array of strings');
  return v as string[];
}

/** true/false, or their text (a variable's value). */
export function flag(where: string, v: unknown): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  fail(where, v, 'must be true or false');
}

const WHOLE_NUMBER = /^\d+$/;

/** A whole number from a variable's text. */
export function wholeNumber(where: string, text: string, min: number, max: number, unit = ''): number {
  if (!WHOLE_NUMBER.test(text)) fail(where, text, 'must be a whole number');
  return integer(where, Number(text), min, max, unit);
}

/** HT_ERR_USAGE: the command line (exit 2). */
export function usage(message: string): never {
  throw new TracerError('HT_ERR_USAGE', message);
}

/** A whole number from a command-line option's text: "--port "http": expected an integer", "--port 70000: must be in [1, 65535]". */
export function optionInteger(option: string, text: string, min: number, max: number): number {
  if (!WHOLE_NUMBER.test(text)) usage(`--${option} ${JSON.stringify(text)}: expected an integer`);
  const n = Number(text);
  if (n < min || n > max) usage(`--${option} ${text}: must be in [${min}, ${max}]`);
  return n;
}
