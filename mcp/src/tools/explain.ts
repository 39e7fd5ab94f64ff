// The `explain` tool: why a chunk matches a query — the latent concepts both share (labels and
// weights) and the query's words found in the chunk (BM25 contributions).
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ExplainParams, LexicalMatch, pathArg, queryArg, rootArg, SearchHit, SharedLatent, z } from "@loupe/protocol";
import { guarded, ok } from "../result.js";
import { READ_ONLY } from "../schemas.js";
import type { DaemonSession } from "../session.js";

export const explainInput = z.strictObject({
  query: queryArg.describe("The search query to explain, as given to `search`."),
  path: pathArg,
  root: rootArg.optional(),
  line: ExplainParams.shape.line.describe("A line inside the hit to explain (e.g. its startLine); the indexed chunk covering it is explained."),
});

export const explainOutput = z.object({
  query: z.string().describe("The query explained."),
  hit: SearchHit.describe("The chunk explained; its score is on search's scale (as search would rank it in this root, before spreading a page over files)."),
  latents: z.array(SharedLatent).describe("Concepts active in both query and chunk, by contribution (weight = queryWeight × chunkWeight)."),
  lexical: z.array(LexicalMatch).describe("Query words found in the chunk, by contribution."),
  lexicalScore: z.number().describe("The exact-words (BM25) score before fusion."),
  latentScore: z.number().describe("The meaning (latent dot product) score before fusion."),
});

export function registerExplain(server: McpServer, session: DaemonSession, log: (line: string) => void): void {
  server.registerTool(
    "explain",
    {
      title: "Explain a search hit",
      description:
        "Explain why a chunk matches a query: the meaning concepts query and chunk share (with readable labels and weights) " +
        "and the query words found in it. Use it to judge whether a surprising hit is relevant, or to find better query words.",
      inputSchema: explainInput,
      outputSchema: explainOutput,
      annotations: { title: "Explain a search hit", ...READ_ONLY },
    },
    (args) =>
      guarded(async () => {
        const r = await session.inRoot(args.path, args.root, (client, root) => client.explain({ query: args.query, path: args.path, root, line: args.line }));
        const h = r.hit;
        const text =
          `${h.path}:${h.startLine}-${h.endLine}${h.symbol ? ` (${h.symbol})` : ""} for ${JSON.stringify(r.query)}: ` +
          `exact words ${r.lexicalScore}, meaning ${r.latentScore}\n` +
          (r.lexical.length ? `words: ${r.lexical.map((t) => `${t.term} ×${t.tf} (${t.contribution})`).join(", ")}\n` : "words: no query word occurs in this chunk\n") +
          (r.latents.length
            ? `concepts:\n${r.latents.slice(0, 10).map((c) => `  ${c.weight}  ${c.label || `latent ${c.id}`}`).join("\n")}\n`
            : "concepts: none shared\n");
        return ok({ query: r.query, hit: h, latents: r.latents, lexical: r.lexical, lexicalScore: r.lexicalScore, latentScore: r.latentScore }, text);
      }, log),
  );
}
