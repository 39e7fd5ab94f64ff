// @loupe/protocol: what a client of the Loupe daemon needs, and nothing heavy. Its only
// dependencies are vscode-languageserver-protocol (JSON-RPC framing, LSP messages) and zod.
// This entry is `@loupe/protocol/client` (client-entry.ts) plus the schemas that validate.
export * from "./client-entry.js";
export * from "./schemas.js";
// The zod instance these schemas are built with: a client extending them (the MCP tools) must use
// the same one, and importing it from here keeps its version tied to the protocol's.
export { z } from "zod";
