// gRPC server reflection, so grpcurl needs no proto files.
// proto-loader's file descriptors name types relative to their scope, list no dependencies, name map
// entries differently from protoc and declare extensions of descriptor.proto without serving it, which protoc-based clients (grpcurl) reject (grpc/grpc-node#2958,
// #3018). They are put right once here, at start-up, and then handed to @grpc/reflection.
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';
import descriptor from 'protobufjs/ext/descriptor/index.js';

interface FieldProto {
  name: string;
  label?: number | string;
  typeName?: string;
}

interface MessageProto {
  name: string;
  field?: FieldProto[];
  nestedType?: MessageProto[];
  enumType?: { name: string }[];
  options?: { mapEntry?: boolean };
  extension?: unknown[];
}

interface FileProto {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageProto[];
  enumType?: { name: string }[];
  service?: { name: string; method?: { inputType?: string; outputType?: string }[] }[];
  extension?: unknown[];
}

const FileDescriptorProto = (descriptor as unknown as { FileDescriptorProto: { decode(b: Uint8Array): unknown; encode(m: unknown): { finish(): Uint8Array }; toObject(m: unknown): unknown; fromObject(o: unknown): unknown } }).FileDescriptorProto;

function camel(name: string): string {
  return name
    .split('_')
    .map((part) => (part === '' ? '' : part[0]!.toUpperCase() + part.slice(1)))
    .join('');
}

/** Returns a package definition whose file descriptors are protoc-shaped. */
export function fixFileDescriptors(definition: PackageDefinition): PackageDefinition {
  const files = new Map<string, FileProto>();
  for (const value of Object.values(definition)) {
    for (const bytes of (value as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const file = FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes)) as FileProto;
      if (!files.has(file.name)) files.set(file.name, file);
    }
  }

  // Map entries as protoc names them (<Field>Entry), then every symbol and the file it lives in.
  const renamed = new Map<string, string>();
  const symbols = new Map<string, string>();
  const visit = (file: FileProto, scope: string, message: MessageProto): void => {
    const full = `${scope}.${message.name}`;
    for (const nested of message.nestedType ?? []) {
      if (nested.options?.mapEntry) {
        const field = message.field?.find((f) => f.typeName === nested.name);
        if (field) {
          const entryName = camel(field.name) + 'Entry';
          renamed.set(`${full}.${nested.name}`, `${full}.${entryName}`);
          nested.name = entryName;
          field.typeName = entryName;
        }
      }
      visit(file, full, nested);
    }
    for (const enumType of message.enumType ?? []) symbols.set(`${full}.${enumType.name}`, file.name);
    symbols.set(full, file.name);
  };
  for (const file of files.values()) {
    const scope = file.package ? `.${file.package}` : '';
    for (const message of file.messageType ?? []) visit(file, scope, message);
    for (const enumType of file.enumType ?? []) symbols.set(`${scope}.${enumType.name}`, file.name);
  }

  const resolve = (scope: string, name: string): string => {
    if (name.startsWith('.')) return renamed.get(name) ?? name;
    for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
      const candidate = `${at}.${name}`;
      const target = renamed.get(candidate) ?? candidate;
      if (symbols.has(target)) return target;
      if (at === '') return name;
    }
  };

  // 1. Every reference fully qualified; extensions and protobufjs's extension fields dropped.
  const messages = new Map<string, MessageProto>();
  const fixMessage = (scope: string, message: MessageProto): void => {
    const full = `${scope}.${message.name}`;
    messages.set(full, message);
    delete message.extension;
    // protobufjs adds extension fields to the extended message under their full name (".validate.rules").
    if (message.field) message.field = message.field.filter((field) => !field.name.startsWith('.'));
    for (const field of message.field ?? []) {
      if (field.typeName) field.typeName = resolve(full, field.typeName);
    }
    for (const nested of message.nestedType ?? []) fixMessage(full, nested);
  };
  const roots: string[] = [];
  for (const file of files.values()) {
    const scope = file.package ? `.${file.package}` : '';
    // Extensions here are Envoy's annotation options (udpa, validate) on descriptor.proto; clients
    // need none of them to call the service.
    delete file.extension;
    for (const message of file.messageType ?? []) fixMessage(scope, message);
    for (const service of file.service ?? []) {
      for (const method of service.method ?? []) {
        if (method.inputType) roots.push((method.inputType = resolve(scope, method.inputType)));
        if (method.outputType) roots.push((method.outputType = resolve(scope, method.outputType)));
      }
    }
  }

  // 2. Only the types the services reach are served (descriptor.proto, pulled in by the annotations,
  //    is proto2 and would not survive being rendered as proto3).
  const reachable = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (reachable.has(name)) continue;
    reachable.add(name);
    const message = messages.get(name);
    for (const field of message?.field ?? []) if (field.typeName) pending.push(field.typeName);
    for (const nested of message?.nestedType ?? []) if (nested.options?.mapEntry) pending.push(`${name}.${nested.name}`);
  }

  // 3. Dependencies: the files that define what each file's kept types refer to.
  const fixed: Record<string, Buffer> = {};
  for (const file of files.values()) {
    const scope = file.package ? `.${file.package}` : '';
    file.messageType = (file.messageType ?? []).filter((message) => reachable.has(`${scope}.${message.name}`));
    file.enumType = (file.enumType ?? []).filter((enumType) => reachable.has(`${scope}.${enumType.name}`));
    const dependencies = new Set<string>();
    const collect = (message: MessageProto): void => {
      for (const field of message.field ?? []) {
        const target = field.typeName ? symbols.get(field.typeName) : undefined;
        if (target) dependencies.add(target);
      }
      for (const nested of message.nestedType ?? []) collect(nested);
    };
    for (const message of file.messageType) collect(message);
    for (const service of file.service ?? []) {
      for (const method of service.method ?? []) {
        for (const type of [method.inputType, method.outputType]) {
          const target = type ? symbols.get(type) : undefined;
          if (target) dependencies.add(target);
        }
      }
    }
    dependencies.delete(file.name);
    file.dependency = [...dependencies].sort();
    fixed[file.name] = Buffer.from(FileDescriptorProto.encode(FileDescriptorProto.fromObject(file)).finish());
  }

  const result: PackageDefinition = {};
  for (const [key, value] of Object.entries(definition)) {
    const list = (value as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    if (!list) {
      result[key] = value;
      continue;
    }
    const names = list.map((bytes) => (FileDescriptorProto.decode(bytes) as { name: string }).name);
    result[key] = { ...value, fileDescriptorProtos: names.map((name) => fixed[name]!) } as typeof value;
  }
  return result;
}

export function addReflection(server: Pick<Server, 'addService'>, definition: PackageDefinition): void {
  new ReflectionService(fixFileDescriptors(definition)).addToServer(server);
}
