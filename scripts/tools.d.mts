// Types for the part of scripts/tools.mjs the tests import.
export declare const ISTIO_API: { module: string; version: string };
export declare function ensureIstioApi(): string;
