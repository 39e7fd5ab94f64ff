// A TopK sparse autoencoder over token states, trained by hand-written backward passes.
//
//   x' = s·x                     (one scalar so that E‖x'‖² ≈ d; s ships with the weights)
//   pre = (x' − b_pre)·W_encᵀ + b_enc            dense: an ONNX Gemm in onnxruntime
//   z   = TopK_k(pre), a = ReLU(z)               sparse: k of `width` latents per token
//   x̂'  = b_pre + Σ_j a_j · W_dec[j]             ‖W_dec[j]‖ = 1
//   loss = mean ‖x̂' − x'‖² + auxCoef · mean ‖ê − (x' − x̂')‖²,
//   where ê reconstructs the residual from the top `auxK` *dead* latents (AuxK, Gao et al.
//   2024), so latents that stopped firing get gradient and come back.
//
// The expensive product runs in onnxruntime (MLAS), which also does the TopK, so only k ids
// and values per token come back to JavaScript; every gradient is sparse in the latents and
// written out by hand below. Adam with decoupled bias correction; the decoder's gradient is
// projected orthogonal to each row before the step and rows are renormalised after it.
//
// It lives in the daemon because `loupe pack build --train-sae` trains one for any encoder;
// train/ runs the default pack's training with it (train/src/train-sae.ts).
import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "./onnx/graph.js";

/** A standard normal sample (Box–Muller). */
function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** mulberry32: small, fast, and the same on every machine. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export interface SaeShape {
  width: number;
  dim: number;
}

export interface SaeParams extends SaeShape {
  wEnc: Float32Array; // width × dim
  bEnc: Float32Array; // width
  wDec: Float32Array; // width × dim, unit rows
  bPre: Float32Array; // dim
  scale: number;
}

export function initSae(shape: SaeShape, random: () => number, mean: Float32Array, scale: number): SaeParams {
  const { width, dim } = shape;
  const wDec = new Float32Array(width * dim);
  for (let i = 0; i < wDec.length; i++) wDec[i] = gaussian(random);
  normalizeRows(wDec, dim);
  const bPre = Float32Array.from(mean, (m) => m * scale);
  // Encoder starts as the decoder's transpose (a good init for TopK SAEs).
  return { width, dim, wEnc: wDec.slice(), bEnc: new Float32Array(width), wDec, bPre, scale };
}

export function normalizeRows(w: Float32Array, dim: number): void {
  for (let r = 0; r < w.length / dim; r++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += w[r * dim + c]! * w[r * dim + c]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < dim; c++) w[r * dim + c]! *= inv;
  }
}

/** The encoder forward pass (Gemm + TopK twice) as an ONNX session with weights as inputs. */
export async function encoderSession(): Promise<ort.InferenceSession> {
  const g = new GraphBuilder("sae_encoder_train");
  const x = g.input("x", DataType.FLOAT, ["batch", "dim"]);
  const w = g.input("w_enc", DataType.FLOAT, ["width", "dim"]);
  const b = g.input("b_enc", DataType.FLOAT, ["width"]);
  const bPre = g.input("b_pre", DataType.FLOAT, ["dim"]);
  const deadBias = g.input("dead_bias", DataType.FLOAT, ["width"]);
  const k = g.input("k", DataType.INT64, [1]);
  const auxK = g.input("aux_k", DataType.INT64, [1]);
  const pre = g.op("Gemm", [g.op("Sub", [x, bPre]), w, b], { transB: 1 });
  const [vals, idx] = g.opMulti("TopK", [pre, k], { axis: -1, largest: 1, sorted: 0 }, 2) as [string, string];
  const [auxVals, auxIdx] = g.opMulti("TopK", [g.op("Add", [pre, deadBias]), auxK], { axis: -1, largest: 1, sorted: 0 }, 2) as [string, string];
  g.output("vals", vals, DataType.FLOAT, ["batch", "k"]);
  g.output("idx", idx, DataType.INT64, ["batch", "k"]);
  g.output("aux_vals", auxVals, DataType.FLOAT, ["batch", "aux_k"]);
  g.output("aux_idx", auxIdx, DataType.INT64, ["batch", "aux_k"]);
  return ort.InferenceSession.create(g.serialize(17, "loupe-train-sae"), { intraOpNumThreads: 0, graphOptimizationLevel: "all" });
}

export interface Encoded {
  vals: Float32Array;
  idx: BigInt64Array;
  auxVals: Float32Array;
  auxIdx: BigInt64Array;
  k: number;
  auxK: number;
}

export async function encodeBatch(
  session: ort.InferenceSession,
  p: SaeParams,
  x: Float32Array,
  k: number,
  auxK: number,
  deadBias: Float32Array,
): Promise<Encoded> {
  const n = x.length / p.dim;
  const r = await session.run({
    x: new ort.Tensor("float32", x, [n, p.dim]),
    w_enc: new ort.Tensor("float32", p.wEnc, [p.width, p.dim]),
    b_enc: new ort.Tensor("float32", p.bEnc, [p.width]),
    b_pre: new ort.Tensor("float32", p.bPre, [p.dim]),
    dead_bias: new ort.Tensor("float32", deadBias, [p.width]),
    k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
    aux_k: new ort.Tensor("int64", BigInt64Array.of(BigInt(auxK)), [1]),
  });
  return {
    vals: r.vals!.data as Float32Array,
    idx: r.idx!.data as BigInt64Array,
    auxVals: r.aux_vals!.data as Float32Array,
    auxIdx: r.aux_idx!.data as BigInt64Array,
    k,
    auxK,
  };
}

export interface Grads {
  wEnc: Float32Array;
  bEnc: Float32Array;
  wDec: Float32Array;
  bPre: Float32Array;
}

export function clearGrads(g: Grads): void {
  g.wEnc.fill(0);
  g.bEnc.fill(0);
  g.wDec.fill(0);
  g.bPre.fill(0);
}

export function zeroGrads(p: SaeShape): Grads {
  return {
    wEnc: new Float32Array(p.width * p.dim),
    bEnc: new Float32Array(p.width),
    wDec: new Float32Array(p.width * p.dim),
    bPre: new Float32Array(p.dim),
  };
}

export interface StepStats {
  /** Σ‖x̂' − x'‖² over the batch. */
  sse: number;
  auxSse: number;
}

/**
 * Accumulates gradients of the loss for one batch of scaled inputs `x` (n × dim) into `g` and
 * marks fired latents in `fired`. With `aux` false the aux term is skipped (evaluation).
 */
export function backward(p: SaeParams, x: Float32Array, enc: Encoded, g: Grads | null, auxCoef: number, fired: Uint8Array | null, aux: boolean): StepStats {
  const { dim } = p;
  const n = x.length / dim;
  const xc = new Float32Array(dim);
  const e = new Float32Array(dim);
  const ea = new Float32Array(dim);
  let sse = 0;
  let auxSse = 0;
  const inv = 1 / n;
  for (let t = 0; t < n; t++) {
    const xo = t * dim;
    for (let c = 0; c < dim; c++) {
      xc[c] = x[xo + c]! - p.bPre[c]!;
      e[c] = -xc[c]!; // x̂ − x with x̂ = b_pre + Σ a·W_dec
    }
    for (let j = 0; j < enc.k; j++) {
      const a = enc.vals[t * enc.k + j]!;
      if (a <= 0) continue;
      const row = Number(enc.idx[t * enc.k + j]!) * dim;
      for (let c = 0; c < dim; c++) e[c]! += a * p.wDec[row + c]!;
    }
    let s = 0;
    for (let c = 0; c < dim; c++) s += e[c]! * e[c]!;
    sse += s;
    if (!g) {
      if (fired) for (let j = 0; j < enc.k; j++) if (enc.vals[t * enc.k + j]! > 0) fired[Number(enc.idx[t * enc.k + j]!)] = 1;
      continue;
    }
    // dL/dx̂ = 2e/n. b_pre gets it directly (decoder side) ...
    for (let c = 0; c < dim; c++) g.bPre[c]! += 2 * inv * e[c]!;
    latentGrads(p, g, enc.vals, enc.idx, t, enc.k, e, 2 * inv, xc, fired);

    if (!aux || auxCoef === 0) continue;
    // AuxK: dead latents reconstruct the residual r = x − x̂ = −e (treated as a constant).
    let any = false;
    for (let c = 0; c < dim; c++) ea[c] = e[c]!; // ê − r with ê = 0 so far: 0 − (−e) = e
    for (let j = 0; j < enc.auxK; j++) {
      const a = enc.auxVals[t * enc.auxK + j]!;
      if (a <= 0) continue;
      any = true;
      const row = Number(enc.auxIdx[t * enc.auxK + j]!) * dim;
      for (let c = 0; c < dim; c++) ea[c]! += a * p.wDec[row + c]!;
    }
    if (!any) continue;
    let sa = 0;
    for (let c = 0; c < dim; c++) sa += ea[c]! * ea[c]!;
    auxSse += sa;
    latentGrads(p, g, enc.auxVals, enc.auxIdx, t, enc.auxK, ea, 2 * auxCoef * inv, xc, null);
  }
  return { sse, auxSse };
}

/**
 * For the active latents of token t, with residual `err` and loss weight `w` (dL/dx̂ = w·err):
 * decoder rows get a·w·err; pre-activations get w·(W_dec[j]·err) where a > 0, which flows to
 * the encoder row (·xc), the encoder bias, and b_pre (−W_enc[j]).
 */
function latentGrads(p: SaeParams, g: Grads, vals: Float32Array, idx: BigInt64Array, t: number, k: number, err: Float32Array, w: number, xc: Float32Array, fired: Uint8Array | null): void {
  const { dim } = p;
  for (let j = 0; j < k; j++) {
    const a = vals[t * k + j]!;
    if (a <= 0) continue;
    const latent = Number(idx[t * k + j]!);
    if (fired) fired[latent] = 1;
    const row = latent * dim;
    let da = 0;
    for (let c = 0; c < dim; c++) {
      da += p.wDec[row + c]! * err[c]!;
      g.wDec[row + c]! += w * a * err[c]!;
    }
    const dpre = w * da;
    g.bEnc[latent]! += dpre;
    for (let c = 0; c < dim; c++) {
      g.wEnc[row + c]! += dpre * xc[c]!;
      g.bPre[c]! -= dpre * p.wEnc[row + c]!;
    }
  }
}

export class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(private readonly params: Float32Array[], private readonly beta1 = 0.9, private readonly beta2 = 0.999, private readonly eps = 1e-8) {
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }

  step(grads: Float32Array[], lr: number): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    const step = (lr * Math.sqrt(c2)) / c1;
    const { beta1, beta2, eps } = this;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!, g = grads[i]!, m = this.m[i]!, v = this.v[i]!;
      for (let j = 0; j < p.length; j++) {
        const gj = g[j]!;
        const mj = (m[j] = beta1 * m[j]! + (1 - beta1) * gj);
        const vj = (v[j] = beta2 * v[j]! + (1 - beta2) * gj * gj);
        p[j]! -= (step * mj) / (Math.sqrt(vj) + eps);
      }
    }
  }
}

/** Removes from each decoder-row gradient its component along the (unit) row. */
export function projectDecoderGrad(p: SaeParams, g: Grads): void {
  const { dim } = p;
  for (let r = 0; r < p.width; r++) {
    const o = r * dim;
    let d = 0;
    for (let c = 0; c < dim; c++) d += g.wDec[o + c]! * p.wDec[o + c]!;
    if (d === 0) continue;
    for (let c = 0; c < dim; c++) g.wDec[o + c]! -= d * p.wDec[o + c]!;
  }
}

export interface TrainSettings {
  width: number;
  /** Latents kept per token while training. */
  k: number;
  auxK: number;
  auxCoef: number;
  /** A latent that has not fired for this many tokens is dead (and gets the AuxK gradient). */
  deadAfterTokens: number;
  batch: number;
  epochs: number;
  lr: number;
}

export interface TrainResult {
  params: SaeParams;
  steps: number;
  trainTokens: number;
  heldOut: { fve: number; deadFraction: number };
  deadFractionTrain: number;
  seconds: number;
}

/**
 * Trains a TopK SAE on token states: `row(t)` is state t (dim floats), `train` the states to
 * train on (shuffled here with `random` each epoch after the first; pass them shuffled), `held`
 * those it is evaluated on. The input scale s makes E‖s·x‖² = dim over up to 100k training
 * states; b_pre starts at their mean. `log` gets a progress line every 25 steps.
 */
export async function trainTopKSae(
  dim: number,
  row: (t: number) => Float32Array,
  train: number[],
  held: number[],
  c: TrainSettings,
  random: () => number,
  log: (line: { step: number; totalSteps: number; tokens: number; fve: number; auxSseRatio: number; deadFraction: number; seconds: number }) => void,
): Promise<TrainResult> {
  const mean = new Float64Array(dim);
  let sq = 0;
  const sample = train.slice(0, 100_000);
  for (const t of sample) {
    const x = row(t);
    for (let i = 0; i < dim; i++) {
      mean[i]! += x[i]!;
      sq += x[i]! * x[i]!;
    }
  }
  const scale = Math.sqrt(dim / (sq / sample.length));
  const p = initSae({ width: c.width, dim }, random, Float32Array.from(mean, (m) => m / sample.length), scale);
  const session = await encoderSession();
  try {
    const adam = new Adam([p.wEnc, p.bEnc, p.wDec, p.bPre]);
    const lastFired = new Float64Array(c.width);
    const deadBias = new Float32Array(c.width);
    const fired = new Uint8Array(c.width);
    const totalSteps = Math.floor((train.length * c.epochs) / c.batch);
    const started = Date.now();
    const x = new Float32Array(c.batch * dim);
    const g = zeroGrads(p);
    let seen = 0;
    let step = 0;
    let windowSse = 0, windowVar = 0, windowAux = 0;
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      if (epoch > 0) shuffle(train, random);
      for (let b = 0; b + c.batch <= train.length; b += c.batch) {
        for (let i = 0; i < c.batch; i++) {
          const src = row(train[b + i]!);
          for (let d = 0; d < dim; d++) x[i * dim + d] = src[d]! * scale;
        }
        for (let j = 0; j < c.width; j++) deadBias[j] = seen - lastFired[j]! > c.deadAfterTokens ? 0 : -1e9;
        const enc = await encodeBatch(session, p, x, c.k, c.auxK, deadBias);
        clearGrads(g);
        fired.fill(0);
        const stats = backward(p, x, enc, g, c.auxCoef, fired, true);
        seen += c.batch;
        for (let j = 0; j < c.width; j++) if (fired[j]) lastFired[j] = seen;
        projectDecoderGrad(p, g);
        // Warm up over 5% of the steps, decay linearly over the last 20%.
        const warm = Math.min(1, (step + 1) / Math.max(1, totalSteps * 0.05));
        const decay = Math.min(1, (totalSteps - step) / Math.max(1, totalSteps * 0.2));
        adam.step([g.wEnc, g.bEnc, g.wDec, g.bPre], c.lr * warm * decay);
        normalizeRows(p.wDec, dim);
        windowSse += stats.sse;
        windowAux += stats.auxSse;
        windowVar += batchVariance(x, dim);
        step++;
        if (step % 25 === 0 || step === totalSteps) {
          log({
            step,
            totalSteps,
            tokens: seen,
            fve: round(1 - windowSse / windowVar),
            auxSseRatio: round(windowAux / windowVar),
            deadFraction: round(countDead(lastFired, seen, c.deadAfterTokens) / c.width),
            seconds: Math.round((Date.now() - started) / 1000),
          });
          windowSse = windowVar = windowAux = 0;
        }
      }
    }
    const heldOut = await evaluate(p, session, held.map(row), c.k);
    return { params: p, steps: step, trainTokens: train.length, heldOut, deadFractionTrain: countDead(lastFired, seen, c.deadAfterTokens) / c.width, seconds: (Date.now() - started) / 1000 };
  } finally {
    await session.release();
  }
}

function countDead(lastFired: Float64Array, seen: number, after: number): number {
  let n = 0;
  for (const f of lastFired) if (seen - f > after) n++;
  return n;
}

function batchVariance(x: Float32Array, dim: number): number {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]!;
  let v = 0;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) {
    const z = x[i * dim + d]! - mean[d]! / n;
    v += z * z;
  }
  return v;
}

/** Held-out fraction of variance explained and the share of latents that never fire on it. */
export async function evaluate(p: SaeParams, session: ort.InferenceSession, rows: Float32Array[], k: number): Promise<{ fve: number; deadFraction: number }> {
  const dim = p.dim;
  const everFired = new Uint8Array(p.width);
  const noDead = new Float32Array(p.width).fill(-1e9);
  let sse = 0, variance = 0;
  const B = 2048;
  for (let b = 0; b < rows.length; b += B) {
    const n = Math.min(B, rows.length - b);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) x[i * dim + d] = rows[b + i]![d]! * p.scale;
    const enc = await encodeBatch(session, p, x, k, 1, noDead);
    sse += backward(p, x, enc, null, 0, everFired, false).sse;
    variance += batchVariance(x, dim);
  }
  let dead = 0;
  for (const f of everFired) if (!f) dead++;
  return { fve: 1 - sse / variance, deadFraction: dead / p.width };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
