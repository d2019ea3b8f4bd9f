// A bundle from an OCI registry, pulled as OPA's OCI downloader pulls it (v1/download/oci_download.go): HEAD
// the manifest by tag (OPA's Accept list) for its digest, GET the manifest by that digest, take its first layer
// of OPA's bundle media type, GET that blob. meshwarden also checks what OPA leaves to oras-go's local store:
// the manifest's and the blob's sha256 (or sha512) against their digests and the blob's size against its
// descriptor, and it bounds every answer (the manifest, the blob by size_limit_bytes) before holding it.
import { createHash } from 'node:crypto';
import { describeError } from '../errors.js';
import type { OciReference } from './config-file.js';
import { fetchRegistryToken, parseChallenge } from './registry-token.js';
import { ServiceRequestError, type ServiceClient, type ServiceRequest, type ServiceResponse } from './service-client.js';

/** The layer media type OPA takes as the bundle (its docs: push the tarball with this type). */
export const BUNDLE_LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** OPA's Accept header for the manifest, in its order. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, '*/*'].join(', ');
// oras-go's limit on a manifest it reads (defaultMaxMetadataBytes).
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** What is in force: the digests a pull compares with. */
export interface PulledDigests {
  readonly manifestDigest?: string;
  /** The bundle layer's digest: OPA's ETag of an OCI bundle (an unchanged layer is not activated again). */
  readonly layerDigest?: string;
}

export type PullResult =
  | { readonly kind: 'unchanged'; readonly manifestDigest: string }
  | { readonly kind: 'downloaded'; readonly manifestDigest: string; readonly layerDigest: string; readonly archive: Buffer };

export interface OciPuller {
  /** Where a pull starts (for the log): `<service url>/v2/<repository>/manifests/<reference>`. */
  readonly source: string;
  /** Resolves the reference; downloads the bundle layer unless the manifest or the layer is the one in force. */
  pull(current: PulledDigests, signal: AbortSignal): Promise<PullResult>;
}

export interface OciPullerOptions {
  client: ServiceClient;
  reference: OciReference;
  /** The largest bundle layer downloaded (size_limit_bytes). */
  sizeLimitBytes: number;
}

/** A registry's answer that cannot be a bundle (for the log and status; never sent to a Check caller). */
export class OciPullError extends Error {
  override readonly name = 'OciPullError';
  constructor(
    message: string,
    /** The HTTP status that failed the pull, 0 when the answer was there but unusable. */
    readonly httpCode: number,
  ) {
    super(message);
  }
}

export function createOciPuller(options: OciPullerOptions): OciPuller {
  const { client, reference, sizeLimitBytes } = options;
  // OPA sends every request to the service's host, whatever registry the resource names.
  const origin = new URL(client.service.url);
  const base = `${origin.protocol}//${origin.host}/v2/${reference.repository}`;
  const timeoutMs = (client.service.responseHeaderTimeoutSeconds || 10) * 1000;
  // The registry's token, once one was fetched: sent instead of the configured credential until it is refused.
  let registryToken: string | undefined;

  /** One request with the token flow: a Bearer challenge is answered once with a fresh token. */
  const send = async (request: Omit<ServiceRequest, 'resource' | 'headerTimeoutMs'> & { url: string }, signal: AbortSignal): Promise<ServiceResponse> => {
    const attempt = (): Promise<ServiceResponse> =>
      client.send({
        ...request,
        resource: '',
        headerTimeoutMs: timeoutMs,
        headers: { ...request.headers, ...(registryToken === undefined ? {} : { authorization: `Bearer ${registryToken}` }) },
        signal,
      });
    let response = await attempt();
    if (response.status !== 401) return response;
    const header = response.headers['www-authenticate'];
    const challenge = typeof header === 'string' ? parseChallenge(header) : undefined;
    if (challenge?.scheme !== 'bearer') return response;
    registryToken = undefined;
    registryToken = await fetchRegistryToken(client, challenge, origin, timeoutMs, signal);
    response = await attempt();
    return response;
  };

  const failIfNot200 = (response: ServiceResponse, what: string): void => {
    if (response.status !== 200) throw new OciPullError(`${what}: the registry answered ${response.status}`, response.status);
  };

  const pull = async (current: PulledDigests, signal: AbortSignal): Promise<PullResult> => {
    const manifestUrl = `${base}/manifests/${reference.reference}`;
    const head = await send({ method: 'HEAD', url: manifestUrl, headers: { accept: MANIFEST_ACCEPT }, maxBodyBytes: 0 }, signal);
    failIfNot200(head, `HEAD ${manifestUrl}`);
    const manifestDigest = head.headers['docker-content-digest'];
    if (typeof manifestDigest !== 'string' || manifestDigest === '') throw new OciPullError(`HEAD ${manifestUrl}: the registry sent no Docker-Content-Digest`, 0);
    if (!DIGEST.test(manifestDigest)) throw new OciPullError(`HEAD ${manifestUrl}: "${manifestDigest}" is not a sha256 or sha512 digest`, 0);
    if (manifestDigest === current.manifestDigest) return { kind: 'unchanged', manifestDigest };

    const mediaType = typeof head.headers['content-type'] === 'string' ? head.headers['content-type'].split(';')[0]!.trim() : '';
    const byDigest = `${base}/manifests/${manifestDigest}`;
    const got = await send({ method: 'GET', url: byDigest, headers: { accept: mediaType === '' ? MANIFEST_ACCEPT : mediaType }, maxBodyBytes: MAX_MANIFEST_BYTES }, signal);
    failIfNot200(got, `GET ${byDigest}`);
    checkDigest(got.body, manifestDigest, `the manifest ${manifestDigest}`);
    const layer = bundleLayerOf(got.body, manifestDigest);
    if (layer.digest === current.layerDigest) return { kind: 'unchanged', manifestDigest };
    if (layer.size > sizeLimitBytes) throw new OciPullError(`the bundle layer ${layer.digest} is ${layer.size} bytes, more than the size limit of ${sizeLimitBytes}`, 0);

    const blobUrl = `${base}/blobs/${layer.digest}`;
    const blob = await send({ method: 'GET', url: blobUrl, maxBodyBytes: layer.size }, signal);
    failIfNot200(blob, `GET ${blobUrl}`);
    if (blob.body.length !== layer.size) throw new OciPullError(`the bundle layer ${layer.digest} has ${blob.body.length} bytes, its descriptor says ${layer.size}`, 0);
    checkDigest(blob.body, layer.digest, `the bundle layer ${layer.digest}`);
    return { kind: 'downloaded', manifestDigest, layerDigest: layer.digest, archive: blob.body };
  };

  return {
    source: `${base}/manifests/${reference.reference}`,
    async pull(current, signal) {
      try {
        return await pull(current, signal);
      } catch (error) {
        if (error instanceof OciPullError) throw error;
        // A request that failed on the way (connection, timeout, a body over its bound, the token flow).
        throw new OciPullError(error instanceof ServiceRequestError ? error.message : describeError(error), 0);
      }
    },
  };
}

function checkDigest(content: Buffer, digest: string, what: string): void {
  const [algorithm, hex] = digest.split(':') as [string, string];
  const actual = createHash(algorithm).update(content).digest('hex');
  if (actual !== hex) throw new OciPullError(`${what} does not match its digest (its ${algorithm} is ${actual})`, 0);
}

interface LayerDescriptor {
  readonly digest: string;
  readonly size: number;
}

/** The first layer of OPA's bundle media type, as OPA picks it; an index or a manifest without one is refused. */
function bundleLayerOf(body: Buffer, manifestDigest: string): LayerDescriptor {
  let manifest: unknown;
  try {
    manifest = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new OciPullError(`the manifest ${manifestDigest} is not JSON: ${describeError(error)}`, 0);
  }
  const record = typeof manifest === 'object' && manifest !== null && !Array.isArray(manifest) ? (manifest as Record<string, unknown>) : {};
  if (record['mediaType'] === OCI_INDEX || record['mediaType'] === DOCKER_LIST || Array.isArray(record['manifests'])) {
    // OPA reads an index as a manifest without layers and fails the same way; a bundle has no platforms to choose.
    throw new OciPullError(`${manifestDigest} is an image index, not a bundle's manifest (push the bundle with oras push, one manifest)`, 0);
  }
  const layers = record['layers'];
  if (!Array.isArray(layers) || layers.length === 0) throw new OciPullError(`the manifest ${manifestDigest} has no layers`, 0);
  const layer = layers.find((entry: unknown) => typeof entry === 'object' && entry !== null && (entry as Record<string, unknown>)['mediaType'] === BUNDLE_LAYER_MEDIA_TYPE) as
    | Record<string, unknown>
    | undefined;
  if (layer === undefined) throw new OciPullError(`the manifest ${manifestDigest} has no layer of type ${BUNDLE_LAYER_MEDIA_TYPE} (push the bundle as bundle.tar.gz:${BUNDLE_LAYER_MEDIA_TYPE})`, 0);
  const { digest, size } = layer;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new OciPullError(`the manifest ${manifestDigest}: the bundle layer's digest "${String(digest)}" is not a sha256 or sha512 digest`, 0);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new OciPullError(`the manifest ${manifestDigest}: the bundle layer's size is not a byte count`, 0);
  return { digest, size };
}
