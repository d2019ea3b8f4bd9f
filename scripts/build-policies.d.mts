// Types for scripts/build-policies.mjs, for the tests that import it.
export interface PolicyBuild {
  name: string;
  dir: string;
  entrypoint: string;
}
export declare const POLICIES: PolicyBuild[];
export declare function sources(dir: string): string[];
export declare function build(opa: string, policy: PolicyBuild, outDir: string): string;
