#!/usr/bin/env node
// The benchmark's baseline: a grpc-js Authorization server that allows everything without any policy.
// It still does the work every grpc-js server does (proto-loader decodes each CheckRequest into an object
// and encodes the CheckResponse), so meshwarden/noop measures what the policy path adds on top of grpc-js.
// Usage: node test/bench/noop-server.mjs HOST:PORT
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AUTHORIZATION_PROTO, LOADER_OPTIONS, envoyProtoDirs } from './protos.mjs';

const address = process.argv[2];
if (!address) {
  process.stderr.write('usage: noop-server.mjs HOST:PORT\n');
  process.exit(2);
}

const definition = protoLoader.loadSync(AUTHORIZATION_PROTO, { ...LOADER_OPTIONS, includeDirs: envoyProtoDirs() });
const { Authorization } = grpc.loadPackageDefinition(definition).envoy.service.auth.v3;

const OK = { status: { code: 0 } };
const server = new grpc.Server();
server.addService(Authorization.service, {
  Check(call, callback) {
    // Touch the decoded request so the decode cannot be skipped or optimised away.
    if (call.request.attributes === undefined) callback(null, { status: { code: 3 } });
    else callback(null, OK);
  },
});

server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    process.stderr.write(`noop-server: cannot bind ${address}: ${error.message}\n`);
    process.exit(1);
  }
});

// Stop when the benchmark says so, or when it goes away (the IPC channel closes) so no server is orphaned.
const stop = () => {
  server.forceShutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
