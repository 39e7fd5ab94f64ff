// Graph surgery: turns an encoder's ONNX graph, as common exporters write it (torch.onnx,
// `optimum-cli export onnx`, Loupe's own USE-Lite converter), into a pack's sparse graph. It
// exposes one layer's token states, drops every node that layer does not need (later layers,
// pooler, LM head), feeds the inputs Loupe does not send (token_type_ids, position_ids), brings
// the graph to opset 18 where it is older, optionally runs the encoder's dense layers in
// integers, and fuses the SAE head (convert/sparse-head.ts) onto the states, so encoding stays
// one session on any provider. Weights stored in external data files stay there; the caller
// copies the files the kept tensors name.
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { DataType, GraphBuilder } from "./graph.js";
import { AttributeType, DATA_LOCATION_EXTERNAL, decodeModel, type GraphMessage, type ModelMessage, type NodeMessage, type TensorMessage } from "./proto.js";
import { quantizedProduct, sparseHead, type HeadPrecision } from "../convert/sparse-head.js";
import type { SaeEncoder } from "../sae-format.js";

/** The opset the fused graph runs at (ScatterElements with reduction "max" needs 18). */
export const HEAD_OPSET = 18;
/** The oldest opset whose operators surgery can bring to 18 (Softmax and Unsqueeze changed at 13). */
export const MIN_SOURCE_OPSET = 13;

/**
 * Operators whose `axes` moved from an attribute to an input at opset 18 (ReduceSum did at 13).
 * Between opsets 13 and 18 no other operator an encoder uses changed meaning: 14–17 widened
 * types or added operators (LayerNormalization at 17), and 18's other changes (Split's
 * num_outputs, Pad's axes, ScatterElements' max/min) only added options.
 */
const REDUCE_AXES_AT_18 = new Set(["ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);

/** The inputs Loupe's encoder sends, and those surgery computes from them. */
export const FED_INPUTS = ["input_ids", "attention_mask"] as const;
export const COMPUTED_INPUTS = ["token_type_ids", "position_ids"] as const;

export interface OnnxSource {
  model: ModelMessage;
  /** The folder the model was read from: external data locations are relative to it. */
  dir: string;
}

export async function readOnnx(path: string): Promise<OnnxSource> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read the ONNX model ${path}: ${(e as Error).message}`);
  }
  try {
    return { model: decodeModel(bytes), dir: dirname(path) };
  } catch (e) {
    throw new Error(`${path} is not an ONNX model (${(e as Error).message})`);
  }
}

function mainOpset(model: ModelMessage): number {
  const entry = model.opset_import.find((o) => !o.domain || o.domain === "ai.onnx");
  if (!entry) throw new Error("the model imports no default-domain opset");
  return Number(entry.version);
}

/** Every value a node reads, including those its subgraphs (If, Loop, Scan) read from outside. */
function nodeInputs(node: NodeMessage): string[] {
  const out = node.input.filter(Boolean);
  for (const a of node.attribute ?? []) {
    const graphs = [a.g, ...((a as { graphs?: GraphMessage[] }).graphs ?? [])].filter((g): g is GraphMessage => !!g);
    for (const g of graphs) for (const n of g.node ?? []) out.push(...nodeInputs(n));
  }
  return out;
}

/** The value names a graph produces, by node, in graph order. */
export function producedValues(model: ModelMessage): Array<{ node: string; op: string; output: string }> {
  return model.graph.node.flatMap((n) => n.output.filter(Boolean).map((o) => ({ node: n.name ?? "", op: n.op_type, output: o })));
}

/**
 * The value holding layer `layer`'s output token states, found by the scope names exporters
 * give nodes (`/encoder/layer.3/…` in BERT-like exports, `/model/layers.12/…` in decoder LLMs,
 * `/transformer/h.5/…` in GPT-2 style ones): the last value a node in that layer's scope
 * produces. Returns null when no node carries such a name; `--tap` names a value directly.
 */
export function findLayerOutput(model: ModelMessage, layer: number): string | null {
  const scope = new RegExp(`(?:^|/)(?:layers?|h|blocks?)[._]${layer}/`);
  let found: string | null = null;
  for (const n of model.graph.node) {
    const name = n.name ?? "";
    if (scope.test(name) || n.output.some((o) => scope.test(o))) found = n.output.find(Boolean) ?? found;
  }
  return found;
}

/** The number of layers the exporter's scope names show (0 when it names none). */
export function countLayers(model: ModelMessage): number {
  const seen = new Set<number>();
  const re = /(?:^|\/)(?:layers?|h|blocks?)[._](\d+)\//;
  for (const n of model.graph.node) {
    const m = re.exec(n.name ?? "") ?? re.exec(n.output[0] ?? "");
    if (m) seen.add(Number(m[1]));
  }
  return seen.size;
}

export interface FuseOptions {
  /** The value with the token states [batch, seq, dim] the SAE reads. */
  tap: string;
  sae: SaeEncoder;
  precision: HeadPrecision;
  /** Token ids never pooled (the tokenizer's special tokens). */
  poolExclude?: readonly number[];
  log?: (line: string) => void;
}

export interface FusedGraph {
  bytes: Uint8Array;
  /** External data files (relative to the source model's folder) the kept weights live in. */
  externalFiles: string[];
  /** Nodes kept of the source graph's. */
  kept: number;
  total: number;
}

/** Builds the sparse graph: the source graph up to `tap`, the SAE head fused onto it. */
export function fuseSparseHead(model: ModelMessage, o: FuseOptions): FusedGraph {
  const cut = cutAtTap(model, o.tap, o.precision, o.log ?? (() => {}));
  const { g } = cut;
  const mask3 = g.op("Unsqueeze", [g.op("Cast", [cut.mask], { to: DataType.FLOAT }), g.ints("loupe_axis_last", [-1])]);
  sparseHead(g, o.sae, { states: o.tap, mask3, ids: cut.ids, ...(o.poolExclude ? { poolExclude: o.poolExclude } : {}), precision: o.precision === "int8-all" ? "int8" : o.precision });
  return cut.finish();
}

/** The output name of the states graph `exposeStates` builds. */
export const STATES_OUTPUT = "states";

/**
 * The states graph: the source graph up to `tap` with the tapped token states as its one output
 * (`states`, [batch, seq, dim]), fed as the sparse graph is. What `--train-sae` trains on.
 */
export function exposeStates(model: ModelMessage, tap: string, log: (line: string) => void = () => {}): FusedGraph {
  const cut = cutAtTap(model, tap, "float", log);
  cut.g.output(STATES_OUTPUT, tap, DataType.FLOAT, ["batch", "seq", "dim"]);
  return cut.finish();
}

/** The source graph cut at `tap`, in a builder, with Loupe's inputs; `finish` serialises it. */
function cutAtTap(model: ModelMessage, tap: string, precision: HeadPrecision, log: (line: string) => void): { g: GraphBuilder; ids: string; mask: string; finish: () => FusedGraph } {
  const graph = model.graph;
  const opset = mainOpset(model);
  if (opset < MIN_SOURCE_OPSET) {
    throw new Error(`the model uses opset ${opset}; Loupe reads opset ${MIN_SOURCE_OPSET} or later (re-export it, e.g. torch.onnx.export(..., opset_version=17) or optimum-cli export onnx --opset 17)`);
  }
  const producers = new Set(graph.node.flatMap((n) => n.output));
  if (!producers.has(tap)) {
    const inputs = graph.input.map((i) => i.name);
    throw new Error(inputs.includes(tap) ? `${tap} is a graph input, not token states the graph computes` : `no node of the graph produces ${tap}; \`loupe pack build --list-values\` lists the values it has`);
  }

  // Keep what the tap needs, walking back from it.
  const needed = new Set([tap]);
  const keptNodes: NodeMessage[] = [];
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const node = graph.node[i]!;
    if (!node.output.some((v) => needed.has(v))) continue;
    keptNodes.push(node);
    for (const v of nodeInputs(node)) needed.add(v);
  }
  keptNodes.reverse();

  const initializers = graph.initializer.filter((t) => needed.has(t.name));
  const initializerNames = new Set(graph.initializer.map((t) => t.name));
  const sourceInputs = graph.input.filter((i) => needed.has(i.name) && !initializerNames.has(i.name));
  for (const input of sourceInputs) {
    if (![...FED_INPUTS, ...COMPUTED_INPUTS].includes(input.name as never)) {
      throw new Error(
        `the graph needs input ${input.name}, which Loupe cannot feed (it sends input_ids and attention_mask, and computes token_type_ids and position_ids)` +
          (input.name.startsWith("past_key_values") ? "; export the model without a KV cache (optimum-cli export onnx --task feature-extraction)" : ""),
      );
    }
  }

  const g = new GraphBuilder(`${graph.name ?? "encoder"}_loupe_sparse`);
  g.reserve(producedValues(model).map((v) => v.output));
  g.reserve(graph.node.flatMap((n) => nodeInputs(n)));
  g.adopt({ initializer: initializers, value_info: (graph.value_info ?? []).filter((v) => needed.has(v.name)) });

  // Loupe's inputs, and what the graph's own inputs become.
  const ids = "input_ids";
  const mask = "attention_mask";
  const rename = new Map<string, string>();
  const declare = (name: string) => {
    const source = sourceInputs.find((i) => i.name === name);
    const type = source?.type?.tensor_type?.elem_type ?? DataType.INT64;
    if (type === DataType.INT64) {
      g.input(name, DataType.INT64, ["batch", "seq"]);
    } else {
      // An int32 (or other) input: Loupe sends int64 and casts.
      g.input(name, DataType.INT64, ["batch", "seq"]);
      rename.set(name, g.op("Cast", [name], { to: type }));
    }
  };
  declare(ids);
  declare(mask);
  for (const input of sourceInputs) {
    if (input.name === "token_type_ids" || input.name === "position_ids") {
      const type = input.type?.tensor_type?.elem_type ?? DataType.INT64;
      const zeroI = g.constant(`loupe_${input.name}_zero`, BigInt64Array.of(0n), []);
      let value: string;
      if (input.name === "token_type_ids") {
        value = g.op("Mul", [ids, zeroI]); // zeros [B,T]
      } else {
        // As Hugging Face computes them for right padding: 0, 1, 2, … over the tokens.
        const cumsum = g.op("CumSum", [mask, g.constant("loupe_position_axis", BigInt64Array.of(1n), [])]);
        value = g.op("Max", [g.op("Sub", [cumsum, g.constant("loupe_position_one", BigInt64Array.of(1n), [])]), zeroI]);
      }
      g.alias(type === DataType.INT64 ? value : g.op("Cast", [value], { to: type }), `${input.name}_loupe`);
      rename.set(input.name, `${input.name}_loupe`);
    }
  }

  // The nodes, renamed where an input changed, brought to opset 18, optionally quantised.
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const quantized = new Set<string>();
  const stillRead = new Set<string>();
  let quantizedCount = 0;
  const upgrade = opset < HEAD_OPSET;
  for (const node of keptNodes) {
    let n: NodeMessage = rename.size ? { ...node, input: node.input.map((v) => rename.get(v) ?? v) } : node;
    if (upgrade) n = upgradeNode(g, n);
    const weight = n.op_type === "MatMul" && (!n.domain || n.domain === "ai.onnx") ? byName.get(n.input[1]!) : undefined;
    if (precision === "int8-all" && weight && inlineFloatMatrix(weight)) {
      const dims = weight.dims.map(Number) as [number, number];
      const product = quantizedProduct(g, n.input[0]!, `${weight.name}_int8_${quantizedCount++}`, floatData(weight), dims);
      g.alias(product, n.output[0]!);
      quantized.add(weight.name);
      continue;
    }
    for (const v of nodeInputs(n)) stillRead.add(v);
    g.push(n);
  }
  // A float matrix every reader of which now runs in integers is dropped (a tied embedding
  // that a Gather still reads stays).
  const dropped = new Set([...quantized].filter((name) => !stillRead.has(name)));
  if (quantizedCount > 0) log(`int8: ${quantizedCount} matrix products of the encoder run in integers`);

  const finish = (): FusedGraph => {
    // Weights a quantised product replaced are dropped; external ones are listed for copying.
    const bytes = g.serialize(
      Math.max(opset, HEAD_OPSET),
      "loupe-pack-build",
      {},
      {
        irVersion: Number(model.ir_version ?? 8),
        opsets: model.opset_import.filter((x) => x.domain && x.domain !== "ai.onnx").map((x) => ({ domain: x.domain!, version: Number(x.version) })),
        functions: upgrade ? (model.functions ?? []).map((f) => upgradeFunction(f)) : (model.functions ?? []),
      },
      (t) => !dropped.has(t.name),
    );
    const externalFiles = [...new Set(initializers.filter((t) => !dropped.has(t.name)).flatMap((t) => (t.data_location === DATA_LOCATION_EXTERNAL ? [externalLocation(t)] : [])))];
    return { bytes, externalFiles, kept: keptNodes.length, total: graph.node.length };
  };
  return { g, ids, mask, finish };
}

function externalLocation(t: TensorMessage): string {
  const location = t.external_data?.find((e) => e.key === "location")?.value;
  if (!location) throw new Error(`tensor ${t.name} is stored externally but names no location`);
  if (location.includes("/") || location.includes("\\") || location === "." || location === "..") {
    throw new Error(`tensor ${t.name} is stored in ${location}; Loupe takes external data files beside the model only`);
  }
  return location;
}

function inlineFloatMatrix(t: TensorMessage): boolean {
  return t.data_type === DataType.FLOAT && t.dims.length === 2 && t.data_location !== DATA_LOCATION_EXTERNAL;
}

function floatData(t: TensorMessage): Float32Array {
  if (t.raw_data && t.raw_data.byteLength > 0) {
    const copy = new Uint8Array(t.raw_data);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(t.float_data ?? []);
}

/** A Reduce* node from before opset 18 with its `axes` attribute turned into an input. */
function upgradeNode(g: GraphBuilder | null, node: NodeMessage, constants?: NodeMessage[]): NodeMessage {
  let n = node;
  if ((!n.domain || n.domain === "ai.onnx") && REDUCE_AXES_AT_18.has(n.op_type)) {
    const axes = n.attribute.find((a) => a.name === "axes");
    if (axes) {
      const values = (axes.ints ?? []).map(Number);
      const name = `${n.output[0]}_loupe_axes`;
      if (g) g.ints(name, values);
      else constants!.push({ input: [], output: [name], name, op_type: "Constant", attribute: [{ name: "value", type: AttributeType.TENSOR, t: { name, dims: [values.length], data_type: DataType.INT64, raw_data: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) } }] });
      n = { ...n, input: [n.input[0]!, name], attribute: n.attribute.filter((a) => a !== axes) };
    }
  }
  const subgraphs = n.attribute.filter((a) => a.g);
  if (subgraphs.length > 0) {
    n = { ...n, attribute: n.attribute.map((a) => (a.g ? { ...a, g: upgradeGraph(a.g) } : a)) };
  }
  return n;
}

function upgradeGraph(graph: GraphMessage): GraphMessage {
  const nodes: NodeMessage[] = [];
  for (const node of graph.node ?? []) {
    const constants: NodeMessage[] = [];
    const upgraded = upgradeNode(null, node, constants);
    nodes.push(...constants, upgraded);
  }
  return { ...graph, node: nodes };
}

function upgradeFunction(f: unknown): unknown {
  const fn = f as { node?: NodeMessage[]; opset_import?: Array<{ domain?: string; version: number }> };
  const graph = upgradeGraph({ name: "", node: fn.node ?? [], initializer: [], input: [], output: [] });
  return { ...fn, node: graph.node, opset_import: (fn.opset_import ?? []).map((x) => (!x.domain || x.domain === "ai.onnx" ? { ...x, version: HEAD_OPSET } : x)) };
}
