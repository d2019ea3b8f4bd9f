// src/listeners/call-bounds.ts (its time bound): over a real grpc-js server and client on 127.0.0.1, every call the
// handler does not answer in time gets the bound's answer, each no earlier than its own bound; an answer in
// time is untouched, a late one dropped, a cancelled call never answered by the bound.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferBudget } from '../../../src/listeners/buffer-budget.js';
import { callBounds } from '../../../src/listeners/call-bounds.js';

const PATH = '/test.Bounded/Call';
const TIMEOUT_MS = 300;
const raw = (value: Buffer): Buffer => value;
const definition: grpc.ServiceDefinition = {
  Call: { path: PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};

let server: grpc.Server | undefined;
let client: grpc.Client | undefined;
afterEach(() => {
  client?.close();
  server?.forceShutdown();
  client = undefined;
  server = undefined;
});

/** A server whose handler answers after the delay the request names ("never": not at all). */
async function start(timedOut: string[]): Promise<grpc.Client> {
  server = new grpc.Server({
    interceptors: [
      callBounds({
        path: PATH,
        timeoutMs: TIMEOUT_MS,
        timeoutAnswer: (id) => Buffer.from(`timeout ${id}`),
        onTimeout: (id) => timedOut.push(id),
        budget: new BufferBudget(64 * 1024 * 1024), // roomy: these tests are about time (the budget's are in resources.test.ts)
        maxMessageBytes: 4 * 1024 * 1024,
        budgetAnswer: (id) => Buffer.from(`budget ${id}`),
        onBudgetExceeded: () => undefined,
      }),
    ],
  });
  server.addService(definition, {
    Call(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      const request = call.request.toString();
      if (request === 'never') return;
      setTimeout(() => callback(null, Buffer.from(`answer ${request}`)), Number(request));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return client;
}

function call(c: grpc.Client, request: string): { answer: Promise<{ text: string; elapsedMs: number }>; cancel(): void } {
  const started = performance.now();
  let cancel = (): void => {};
  const answer = new Promise<{ text: string; elapsedMs: number }>((resolve, reject) => {
    const pending = c.makeUnaryRequest(PATH, raw, raw, Buffer.from(request), (error, value) => (error ? reject(error) : resolve({ text: value!.toString(), elapsedMs: performance.now() - started })));
    cancel = () => pending.cancel();
  });
  return { answer, cancel };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('callBounds: the time bound', () => {
  it('answers every call left unanswered when its own bound is reached, in the order they started, and no earlier', async () => {
    const timedOut: string[] = [];
    const c = await start(timedOut);
    const first = call(c, 'never');
    await sleep(100);
    const quick = call(c, '0');
    const second = call(c, 'never');
    await sleep(50);
    const third = call(c, 'never');
    const [a, b, q, d] = await Promise.all([first.answer, second.answer, quick.answer, third.answer]);
    expect(q.text).toBe('answer 0');
    for (const bounded of [a, b, d]) {
      expect(bounded.text).toMatch(/^timeout [0-9a-f-]{36}$/);
      expect(bounded.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    }
    expect(timedOut).toEqual([a, b, d].map((answer) => answer.text.slice('timeout '.length)));
  });

  it('drops the answer of a handler that replies after the bound (the caller gets the bound answer only)', async () => {
    const timedOut: string[] = [];
    const c = await start(timedOut);
    const late = await call(c, String(TIMEOUT_MS + 200)).answer;
    expect(late.text).toMatch(/^timeout /);
    await sleep(300); // the handler's late callback has run by now, and sent nothing
    expect(timedOut).toHaveLength(1);
  });

  it('leaves an answer in time untouched, and never answers a call the client cancelled', async () => {
    const timedOut: string[] = [];
    const c = await start(timedOut);
    expect((await call(c, '20').answer).text).toBe('answer 20');
    const cancelled = call(c, 'never');
    await sleep(50);
    cancelled.cancel();
    await expect(cancelled.answer).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    await sleep(TIMEOUT_MS + 200);
    expect(timedOut).toEqual([]);
    // The bound still works after a cancelled call left the list.
    expect((await call(c, 'never').answer).text).toMatch(/^timeout /);
    expect(timedOut).toHaveLength(1);
  });
});
