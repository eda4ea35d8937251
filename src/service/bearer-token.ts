import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../errors';

/** The token from service.tokenFile (its first line), else service.token / FINETUNE_SERVICE_TOKEN; undefined when neither is set. */
export function readToken(service: { tokenFile: string; token: string }): string | undefined {
  if (service.tokenFile) {
    let text: string;
    try {
      text = fs.readFileSync(service.tokenFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`Cannot read the token file ${service.tokenFile} (service.tokenFile): ${(error as Error).message}.`);
    }
    const token = text.split('\n')[0].trim();
    if (token.length < 16) throw new ConfigError(`The token in ${service.tokenFile} has ${token.length} characters. Expected at least 16 (e.g. openssl rand -hex 32 > ${service.tokenFile}).`);
    return token;
  }
  return service.token || undefined;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Without a token the API may listen on loopback only, where no other machine can reach it. */
export function requireTokenOffLoopback(host: string, token: string | undefined): void {
  if (!token && !isLoopback(host)) {
    throw new ConfigError(
      `Refusing to serve the job API on ${host} without a bearer token: anyone who can reach it could run jobs. Set service.tokenFile (--token-file FILE) or FINETUNE_SERVICE_TOKEN, or listen on 127.0.0.1.`,
    );
  }
}

/** Compares in constant time (over digests, so the lengths do not show either). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}
