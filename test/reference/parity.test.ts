// Tier: reference. The ONNX conversion of USE-Lite against the original TF.js graph
// (@energetic-ai/core): token states of both layers within 1e-3 absolute, sentence embeddings
// at cosine ≥ 0.9999, on prose, code, markdown, other scripts and long texts split in windows.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Encoder } from "../../daemon/src/model/encoder.js";
import { loadReference } from "../support/use-reference.js";
import { testPack } from "../support/default-pack.js";

const long = readFileSync(new URL("../../fixtures/texts/long-prose.md", import.meta.url), "utf8");
const longCode = readFileSync(new URL("../../daemon/src/model/tokenizer.ts", import.meta.url), "utf8");

const INPUTS = [
  "The quick brown fox jumps over the lazy dog.",
  "how to check if a variable is iterable in python",
  "function add(a, b) { return a + b; }",
  "def fetch_user(user_id):\n    \"\"\"Load one user.\"\"\"\n    return db.get(user_id)",
  "export async function readConfig(path: string): Promise<Config> {\n\treturn JSON.parse(await readFile(path, 'utf8'));\n}",
  "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n  s.mux.ServeHTTP(w, r)\n}",
  "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
  "# Installation\n\nRun `npm ci` and then `npx loupe index .` to build the index.",
  "- [ ] buy milk\n- [x] write the weekly report",
  "Der schnelle braune Fuchs springt über den faulen Hund.",
  "El zorro marrón rápido salta sobre el perro perezoso.",
  "Быстрая коричневая лиса прыгает через ленивую собаку.",
  "敏捷的棕色狐狸跳过了懒狗。",
  "ฉันชอบกินข้าวผัด",
  "x",
  "a b c d e f g h i j k l m n o p",
  "microwave measurement of dielectric constant of liquids",
  "fetchUserProfile getHTTPResponseCode snake_case_identifier",
  "🙂 emoji and symbols: ∑ ∫ ≤ ≥ → ←",
  "    indented\n\n\n\ttabs and blank lines\n",
  long,
  longCode,
];

describe("USE-Lite ONNX conversion matches TF.js", () => {
  let encoder: Encoder;
  let reference: Awaited<ReturnType<typeof loadReference>>;
  beforeAll(async () => {
    encoder = await Encoder.open(await testPack(), { provider: "cpu" });
    reference = await loadReference();
  });

  it("tokenizes like the reference tokenizer", () => {
    for (const text of INPUTS) expect(encoder.tokenize(text)).toEqual(reference.tokenize(text));
  });

  it("covers at least 20 inputs, and the long ones span several windows", () => {
    expect(INPUTS.length).toBeGreaterThanOrEqual(20);
    expect(encoder.windows(long).length).toBeGreaterThan(2);
    expect(encoder.windows(longCode).length).toBeGreaterThan(2);
  });

  it("produces the same token states and sentence embeddings", async () => {
    const windows = INPUTS.flatMap((t) => encoder.windows(t));
    const ours = await encoder.runWindows(windows, ["layer0", "layer1", "sentence"]);
    let maxDiff0 = 0;
    let maxDiff1 = 0;
    let minCos = 1;
    // The reference pads each batch to its longest window; run it in small groups.
    for (let start = 0; start < windows.length; start += 8) {
      const group = windows.slice(start, start + 8);
      const ref = await reference.run(group);
      group.forEach((_, j) => {
        const o = ours[start + j]!;
        maxDiff0 = Math.max(maxDiff0, maxAbsDiff(o.layer0!, ref.layer0[j]!));
        maxDiff1 = Math.max(maxDiff1, maxAbsDiff(o.layer1!, ref.layer1[j]!));
        minCos = Math.min(minCos, cosine(o.sentence!, ref.sentence[j]!));
      });
    }
    console.log(`parity over ${windows.length} windows: layer0 max|Δ| ${maxDiff0.toExponential(2)}, layer1 max|Δ| ${maxDiff1.toExponential(2)}, min cosine ${minCos.toFixed(7)}`);
    expect(maxDiff0).toBeLessThan(1e-3);
    expect(maxDiff1).toBeLessThan(1e-3);
    expect(minCos).toBeGreaterThanOrEqual(0.9999);
  });
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}
