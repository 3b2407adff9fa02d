// What every handler uses to check its params: a bad param is an invalid-params error that names it.
import { ErrorCodes, type Empty } from '../../shared/protocol.js';
import { nameProblem } from '../../shared/account-name.js';

/** A request refused with this JSON-RPC code and message, as they are (bad params, the restricted socket). */
export class RequestRejected extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type Params = Record<string, unknown>;

export function invalid(message: string): RequestRejected {
  return new RequestRejected(ErrorCodes.invalidParams, `Invalid params: ${message}`);
}

export function paramsObject(params: unknown): Params {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalid('params must be an object');
  return params as Params;
}

/** For requests that take no params: any object will do (unknown keys are ignored). */
export function noParams(params: unknown): Empty {
  paramsObject(params);
  return {};
}

export function optionalBoolean(params: Params, key: string): boolean {
  const value = params[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(`${key} must be a boolean`);
  return value;
}

export function requiredString(params: Params, key: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${key} must be a non-empty string`);
  return value;
}

export function optionalString(params: Params, key: string): string | undefined {
  return params[key] === undefined ? undefined : requiredString(params, key);
}

/** An account's name, as `nameProblem` (shared/account-name.ts) allows it; undefined when not given. */
export function optionalName(params: Params, key: string): string | undefined {
  const name = optionalString(params, key);
  const problem = name === undefined ? null : nameProblem(name);
  if (problem) throw invalid(`${key}: ${problem}`);
  return name;
}
