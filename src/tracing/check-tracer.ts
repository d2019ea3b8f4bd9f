// OpenTelemetry tracing of the Check path (off unless an OTLP endpoint is configured): one SERVER span per Check,
// a child of the trace the CheckRequest's headers carry (W3C traceparent, or B3 as Envoy and Istio propagate
// it), with the decision, reason, rule and decision_id as attributes and nothing of the request's content.
// Spans leave through a bounded batch: a slow or absent collector drops spans, never delays or fails a Check.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { CheckOutcome, CheckSpan, CheckTracing } from '../check/answer.js';
import type { DecodedCheckRequest } from '../envoy/codec.js';

export interface CheckTracerOptions {
  /** OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces. */
  endpoint: string;
  serviceName: string;
  serviceVersion: string;
}

export interface CheckTracer extends CheckTracing {
  /** Sends what is batched (bounded by the exporter's timeout) and stops. */
  shutdown(): Promise<void>;
}

const headerGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  // Envoy hands headers over lowercased, so a lookup by the lowercase name is enough.
  get: (carrier, key) => carrier[key],
};

// Bounds: at most this many spans wait for export (the rest are dropped), sent in batches every second.
const MAX_QUEUED_SPANS = 4096;
const MAX_BATCH = 512;
const EXPORT_TIMEOUT_MS = 5_000;

export function createCheckTracer(options: CheckTracerOptions): CheckTracer {
  const exporter = new OTLPTraceExporter({ url: options.endpoint, timeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: MAX_QUEUED_SPANS, maxExportBatchSize: MAX_BATCH, scheduledDelayMillis: 1_000, exportTimeoutMillis: EXPORT_TIMEOUT_MS })],
  });
  const tracer: Tracer = provider.getTracer('meshwarden');
  // traceparent first; B3 (single `b3` header or the x-b3-* set) for meshes that send only that.
  const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER })] });
  return {
    start(request: DecodedCheckRequest): CheckSpan {
      const http = request.kind === 'request' ? request.attributes?.request?.http : undefined;
      const parent = http?.headers === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, http.headers, headerGetter);
      const span: Span = tracer.startSpan(
        'envoy.service.auth.v3.Authorization/Check',
        { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': 'envoy.service.auth.v3.Authorization', 'rpc.method': 'Check' } },
        parent,
      );
      return {
        end(outcome: CheckOutcome): void {
          span.setAttribute('meshwarden.decision', outcome.allowed ? 'allow' : 'deny');
          span.setAttribute('meshwarden.reason', outcome.reason);
          span.setAttribute('meshwarden.decision_id', outcome.decisionId);
          if (outcome.rule !== undefined) span.setAttribute('meshwarden.rule', outcome.rule);
          // A failure of meshwarden's own (not a policy deny) marks the span as an error, without its text.
          if (outcome.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
