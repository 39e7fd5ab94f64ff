// `@loupe/protocol/client`: the protocol without its validation schemas (and without zod), for
// clients that only send requests and read answers, such as the CLI, whose start-up time users
// feel on every command. The answers' types are the same as the full entry's.
export * from "./limits.js";
export * from "./protocol.js";
export * from "./errors.js";
export * from "./paths.js";
export * from "./pid-lock.js";
export * from "./client.js";
export type * from "./schemas.js";
