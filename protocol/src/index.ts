// @loupe/protocol: what a client of the Loupe daemon needs, and nothing heavy. Its only
// dependencies are vscode-languageserver-protocol (JSON-RPC framing, LSP messages) and zod.
export * from "./limits.js";
export * from "./schemas.js";
export * from "./protocol.js";
export * from "./errors.js";
export * from "./paths.js";
export * from "./pid-lock.js";
export * from "./client.js";
// The zod instance these schemas are built with: a client extending them (the MCP tools) must use
// the same one, and importing it from here keeps its version tied to the protocol's.
export { z } from "zod";
