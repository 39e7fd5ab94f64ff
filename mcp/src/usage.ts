// `loupe mcp`'s usage text, apart from the server so that `loupe --help` does not load the MCP SDK.
export const MCP_USAGE = `loupe mcp [--root DIR]... [--http PORT] [--quiet]
      Serve LLM agents over MCP (stdio; --http PORT: Streamable HTTP on 127.0.0.1 only). Tools:
      search, read, similar, explain, status over the --root folders (default: the current folder),
      which are added to the daemon (started when needed) and indexed in the background. Every HTTP
      request must carry the header \`Authorization: Bearer <token>\`.
  loupe mcp token
      Print the token for \`loupe mcp --http\` (made on first use, kept in <runtime dir>/mcp-token).`;
