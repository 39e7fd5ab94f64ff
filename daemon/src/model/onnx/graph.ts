// A small builder for ONNX graphs: name constants, chain operators, declare inputs and outputs,
// then serialise. It is what the model converters (and later the fused sparse head) write
// graphs with; it knows nothing about any particular model.
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeMessage,
  type GraphMessage,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from "./proto.js";

export type Attr = number | number[] | string | { floats: number[] } | { float: number };
export type Dim = number | string;

type TypedArray = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

function dataTypeOf(data: TypedArray, fp16: boolean): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint16Array && fp16) return DataType.FLOAT16;
  throw new Error("unsupported initializer element type");
}

function bytesOf(data: TypedArray): Uint8Array {
  // ONNX raw_data is little-endian, as are the typed arrays on every platform Node supports.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function attribute(name: string, value: Attr): AttributeMessage {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for non-integers`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === "string") return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

function valueInfo(name: string, elemType: number, dims: readonly Dim[]): ValueInfoMessage {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly valueInfos: ValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private readonly reserved = new Set<string>();
  private counter = 0;

  /**
   * A module scope for the nodes added next ("/encoder/layer.0/attention"): node names become
   * `${scope}/${op}_${id}` and outputs `${scope}/${op}_${id}_output_0`, as torch.onnx names
   * them. Empty (the default): `${op}_${id}`.
   */
  scope = "";

  constructor(private readonly name: string) {}

  /**
   * Takes over the nodes, initializers and inputs of an existing graph (model/onnx/surgery.ts),
   * claiming their value names so that new nodes never collide with them.
   */
  adopt(graph: Partial<Pick<GraphMessage, "node" | "initializer" | "input" | "value_info">>): void {
    for (const t of graph.initializer ?? []) this.claim(t.name);
    for (const i of graph.input ?? []) this.claim(i.name);
    this.initializers.push(...(graph.initializer ?? []));
    this.inputs.push(...(graph.input ?? []));
    for (const n of graph.node ?? []) this.push(n);
    this.valueInfos.push(...(graph.value_info ?? []));
  }

  /**
   * Names generated node outputs must avoid (a source graph's values, those inside subgraphs
   * included); explicit names may still take them.
   */
  reserve(names: Iterable<string>): void {
    for (const n of names) this.reserved.add(n);
  }

  /** Declares a graph input. */
  input(name: string, elemType: number, dims: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Names `value` as a graph output (through an Identity node, so any value can be exposed). */
  output(name: string, value: string, elemType: number, dims: readonly Dim[]): void {
    this.claim(name);
    this.nodes.push({ input: [value], output: [name], name: `${name}_out`, op_type: "Identity", attribute: [] });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Appends an existing node as it is (its outputs claimed). */
  push(node: NodeMessage): void {
    for (const o of node.output) if (o) this.claim(o);
    this.nodes.push(node);
  }

  /** Makes `value` available under the name `name` (an Identity node). */
  alias(value: string, name: string): void {
    this.claim(name);
    this.nodes.push({ input: [value], output: [name], name: `${name}_alias`, op_type: "Identity", attribute: [] });
  }

  /** A constant tensor stored in the model. `fp16` marks a Uint16Array as half floats. */
  constant(name: string, data: TypedArray, dims: readonly number[], fp16 = false): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`constant ${name}: ${data.length} values for shape [${dims}]`);
    this.claim(name);
    this.initializers.push({ name, dims: [...dims], data_type: dataTypeOf(data, fp16), raw_data: bytesOf(data) });
    return name;
  }

  scalar(name: string, value: number): string {
    return this.constant(name, Float32Array.of(value), []);
  }

  ints(name: string, values: readonly number[]): string {
    return this.constant(name, BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
  }

  /** Adds one node and returns the name of its (first) output. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs = 1): string {
    return this.opMulti(opType, inputs, attrs, outputs)[0]!;
  }

  opMulti(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    let id = ++this.counter;
    const name = (i: number) => (this.scope ? `${this.scope}/${opType}_${id}_output_${i}` : `${opType}_${id}${outputs > 1 ? `_${i}` : ""}`);
    // Adopted graphs may already use this scheme's names.
    const taken = (n: string) => this.names.has(n) || this.reserved.has(n);
    while (Array.from({ length: outputs }, (_, i) => name(i)).some(taken) || taken(`${opType}_${id}`)) id = ++this.counter;
    const outs = Array.from({ length: outputs }, (_, i) => name(i));
    for (const o of outs) this.names.add(o);
    this.nodes.push({
      input: [...inputs],
      output: outs,
      name: this.scope ? `${this.scope}/${opType}_${id}` : `${opType}_${id}`,
      op_type: opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /**
   * Serialises the graph as an ONNX model (IR 8 unless `extra` asks for more, default opset
   * `opset`, plus any other domains' opsets `extra` names, and its model-local functions).
   */
  serialize(
    opset: number,
    producer: string,
    metadata: Record<string, string> = {},
    extra: { irVersion?: number; opsets?: Array<{ domain: string; version: number }>; functions?: unknown[] } = {},
    keepInitializer: (t: TensorMessage) => boolean = () => true,
  ): Uint8Array {
    return encodeModel({
      ir_version: Math.max(8, extra.irVersion ?? 0),
      opset_import: [{ domain: "", version: opset }, ...(extra.opsets ?? [])],
      ...(extra.functions?.length ? { functions: extra.functions } : {}),
      producer_name: producer,
      producer_version: "1",
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers.filter(keepInitializer),
        input: this.inputs,
        output: this.outputs,
        ...(this.valueInfos.length ? { value_info: this.valueInfos } : {}),
      },
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }

  /** Whether a value of this name exists (constants shared by several call sites). */
  has(name: string): boolean {
    return this.names.has(name);
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate graph value name: ${name}`);
    this.names.add(name);
  }
}

export { DataType };
