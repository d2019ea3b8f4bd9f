// The registry token flow (the distribution spec's token authentication), as OPA's OCI downloader follows it
// through oras-go's auth.Client: a 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` is
// answered by a GET of the realm with that service and scope (carrying the service's configured credential, as
// OPA's transport adds it to every request), whose JSON `token` (or `access_token`) is then sent as
// `Authorization: Bearer <token>`.
import { ServiceRequestError, type ServiceClient } from './service-client.js';

/** A parsed `WWW-Authenticate` challenge: its scheme (lower case) and its auth-params. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

// oras-go reads at most 128 KiB of a token response.
const MAX_TOKEN_RESPONSE_BYTES = 128 * 1024;
const TOKEN_CHARACTERS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/**
 * RFC 7235's `challenge = auth-scheme [ 1*SP #auth-param ]` with `auth-param = token "=" ( token / quoted-string )`:
 * the first challenge of the header (registries send one). Parameter names are lower-cased.
 */
export function parseChallenge(header: string): Challenge | undefined {
  let rest = header.trim();
  const scheme = TOKEN_CHARACTERS.exec(rest)?.[0];
  if (scheme === undefined) return undefined;
  rest = rest.slice(scheme.length);
  const params: Record<string, string> = {};
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    const name = TOKEN_CHARACTERS.exec(rest)?.[0];
    if (name === undefined) break;
    rest = rest.slice(name.length).replace(/^\s*/, '');
    if (!rest.startsWith('=')) break; // a token68 or the next challenge: nothing more a Bearer challenge needs
    rest = rest.slice(1).replace(/^\s*/, '');
    let value: string;
    if (rest.startsWith('"')) {
      let index = 1;
      value = '';
      while (index < rest.length && rest[index] !== '"') {
        if (rest[index] === '\\' && index + 1 < rest.length) index++;
        value += rest[index];
        index++;
      }
      if (index >= rest.length) return undefined; // an unterminated quoted-string
      rest = rest.slice(index + 1);
    } else {
      const token = TOKEN_CHARACTERS.exec(rest)?.[0];
      if (token === undefined) return undefined;
      value = token;
      rest = rest.slice(token.length);
    }
    params[name.toLowerCase()] = value;
  }
  return { scheme: scheme.toLowerCase(), params };
}

/**
 * oras-go's realm check: https always; http only when the registry itself is http; a realm on a loopback,
 * link-local, private or unspecified address only on the registry's own host (a registry cannot point the
 * credential at another internal service).
 */
export function realmProblem(realm: string, registryUrl: URL): string | undefined {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return `the bearer realm "${realm}" is not a URL`;
  }
  if (url.protocol === 'http:' && registryUrl.protocol === 'https:') return `the bearer realm "${realm}" uses http but the registry is https`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the bearer realm "${realm}" is not http(s)`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isInternalAddress(host) && url.hostname !== registryUrl.hostname) return `the bearer realm host "${url.hostname}" is an internal address other than the registry's`;
  return undefined;
}

function isInternalAddress(host: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4 !== null) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  if (!host.includes(':')) return false;
  const lower = host.toLowerCase();
  return lower === '::1' || lower === '::' || lower.startsWith('fe8') || lower.startsWith('fe9') || lower.startsWith('fea') || lower.startsWith('feb') || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('ff02');
}

/** Fetches a token for a Bearer challenge; throws a ServiceRequestError (for the log) when none comes. */
export async function fetchRegistryToken(client: ServiceClient, challenge: Challenge, registryUrl: URL, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const realm = challenge.params['realm'];
  if (realm === undefined || realm === '') throw new ServiceRequestError('the registry asked for a bearer token without naming its realm');
  const problem = realmProblem(realm, registryUrl);
  if (problem !== undefined) throw new ServiceRequestError(problem);
  const url = new URL(realm);
  if (challenge.params['service'] !== undefined && challenge.params['service'] !== '') url.searchParams.set('service', challenge.params['service']);
  // oras-go sends each scope of the (space-separated) list as a parameter of its own, once.
  for (const scope of new Set((challenge.params['scope'] ?? '').split(' ').filter((scope) => scope !== ''))) url.searchParams.append('scope', scope);
  const response = await client.send({
    method: 'GET',
    resource: '',
    url: url.href,
    headerTimeoutMs: timeoutMs,
    maxBodyBytes: MAX_TOKEN_RESPONSE_BYTES,
    ...(signal === undefined ? {} : { signal }),
  });
  if (response.status !== 200) throw new ServiceRequestError(`the token realm ${url.origin}${url.pathname} answered ${response.status}`);
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw new ServiceRequestError(`the token realm ${url.origin}${url.pathname} answered with no JSON`);
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  // The spec: `token`, or `access_token` (both, when both are sent, are the same).
  const token = typeof record['access_token'] === 'string' && record['access_token'] !== '' ? record['access_token'] : record['token'];
  if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) throw new ServiceRequestError(`the token realm ${url.origin}${url.pathname} returned no token`);
  return token;
}
