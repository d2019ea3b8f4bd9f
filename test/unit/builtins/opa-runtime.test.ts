// opa.runtime's config: OPA's activeConfig leaves out every service's credentials and every key's material
// (v1/topdown/runtime.go), and a services or keys section of another shape makes the call undefined. The
// rest of the document (env, flags, version) is compared with Go OPA in test/conformance/builtins/cases/runtime.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { createHostBuiltins, setOpaRuntime } from '../../../src/builtins/index.js';

function runtime(): unknown {
  const host = createHostBuiltins();
  host.beginEvaluation();
  return host.builtins['opa.runtime']!();
}

afterEach(() => setOpaRuntime({ version: '', commit: '' }));

describe('opa.runtime', () => {
  it('shows the config file without credentials or key material, services as a map or a list', () => {
    const config = {
      services: { acme: { url: 'https://acme.example', credentials: { bearer: { token: 'secret' } }, headers: { a: 'b' } } },
      keys: { signer: { algorithm: 'RS256', key: '-----BEGIN PUBLIC KEY-----', private_key: 'private' } },
      labels: { app: 'x' },
    };
    setOpaRuntime({ version: '9.9.9', commit: 'abc', config, env: { HOME: '/root', EMPTY: '' } });
    expect(runtime()).toEqual({
      authorization_enabled: false,
      commit: 'abc',
      config: { services: { acme: { url: 'https://acme.example', headers: { a: 'b' } } }, keys: { signer: { algorithm: 'RS256' } }, labels: { app: 'x' } },
      env: { HOME: '/root', EMPTY: '' },
      skip_known_schema_check: false,
      version: '9.9.9',
    });
    // The facts given are not changed by the purge.
    expect(config.services.acme.credentials.bearer.token).toBe('secret');
    setOpaRuntime({ version: '', commit: '', config: { services: [{ name: 'a', url: 'u', credentials: { s3_signing: {} } }] }, env: {} });
    expect((runtime() as { config: unknown }).config).toEqual({ services: [{ name: 'a', url: 'u' }] });
  });

  it('has no config without a config file given (opa eval), and {} when serve runs without one (opa run)', () => {
    setOpaRuntime({ version: '', commit: '', env: {} });
    expect(runtime()).not.toHaveProperty('config');
    setOpaRuntime({ version: '', commit: '', config: {}, env: {} });
    expect(runtime()).toHaveProperty('config', {});
  });

  it('is undefined when services or keys have a shape OPA cannot purge', () => {
    for (const config of [{ services: 'acme' }, { services: ['acme'] }, { keys: ['k'] }, { keys: { k: 'pem' } }]) {
      setOpaRuntime({ version: '', commit: '', config, env: {} });
      expect(runtime()).toBeUndefined();
    }
    setOpaRuntime({ version: '', commit: '', config: { services: null, keys: null }, env: {} });
    expect(runtime()).toHaveProperty('config', { services: null, keys: null });
  });
});
