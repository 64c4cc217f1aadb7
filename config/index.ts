// The configuration: the settings' table, their validation and loading. Components import ./types only, because
// loading uses a component (binaries.ts reads the binary folder).
export * from "./load";
export * from "./settings";
export * from "./types";
export * from "./validate";
