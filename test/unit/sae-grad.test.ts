// Tier: unit (real onnxruntime for the TopK forward). The SAE trainer's hand-written gradients
// against central finite differences on a tiny SAE, for the reconstruction loss and AuxK.
import { describe, expect, it } from "vitest";
import { rng } from "../../train/src/common.js";
import { backward, encodeBatch, encoderSession, initSae, zeroGrads, type SaeParams } from "../../daemon/src/model/sae-train.js";

const DIM = 5, WIDTH = 7, N = 3, K = 2, AUX_K = 3;

function makeCase() {
  const random = rng(7);
  const p = initSae({ width: WIDTH, dim: DIM }, random, new Float32Array(DIM), 1);
  for (let i = 0; i < p.wEnc.length; i++) p.wEnc[i] = (random() - 0.5) * 2;
  for (let i = 0; i < WIDTH; i++) p.bEnc[i] = 0.3 + random() * 0.2; // keep selected values positive
  for (let i = 0; i < DIM; i++) p.bPre[i] = (random() - 0.5) * 0.2;
  const x = Float32Array.from({ length: N * DIM }, () => (random() - 0.5) * 2);
  return { p, x };
}

/** The losses in float64, with the selection taken from `enc` and the aux target `r` fixed. */
function losses(p: SaeParams, x: Float32Array, enc: Awaited<ReturnType<typeof encodeBatch>>, rFixed: Float64Array | null) {
  let main = 0, aux = 0;
  const r = new Float64Array(N * DIM);
  for (let t = 0; t < N; t++) {
    const xc = Array.from({ length: DIM }, (_, c) => x[t * DIM + c]! - p.bPre[c]!);
    const pre = (j: number) => p.bEnc[j]! + xc.reduce((s, v, c) => s + v * p.wEnc[j * DIM + c]!, 0);
    const rec = Array.from({ length: DIM }, (_, c) => p.bPre[c]!);
    for (let s = 0; s < K; s++) {
      const j = Number(enc.idx[t * K + s]!);
      const a = Math.max(0, pre(j));
      for (let c = 0; c < DIM; c++) rec[c]! += a * p.wDec[j * DIM + c]!;
    }
    for (let c = 0; c < DIM; c++) {
      const e = rec[c]! - x[t * DIM + c]!;
      main += e * e;
      r[t * DIM + c] = -e;
    }
    const target = rFixed ?? r;
    const auxRec = new Array(DIM).fill(0);
    for (let s = 0; s < AUX_K; s++) {
      const j = Number(enc.auxIdx[t * AUX_K + s]!);
      const a = Math.max(0, pre(j));
      for (let c = 0; c < DIM; c++) auxRec[c] += a * p.wDec[j * DIM + c]!;
    }
    for (let c = 0; c < DIM; c++) aux += (auxRec[c] - target[t * DIM + c]!) ** 2;
  }
  return { main: main / N, aux: aux / N, r };
}

describe("SAE backward", () => {
  it("matches finite differences for the reconstruction and AuxK losses", async () => {
    const session = await encoderSession();
    const { p, x } = makeCase();
    const allDead = new Float32Array(WIDTH); // every latent counts as dead: AuxK sees them all
    const enc = await encodeBatch(session, p, x, K, AUX_K, allDead);
    const coef = 0.5;
    const g = zeroGrads(p);
    backward(p, x, enc, g, coef, null, true);
    const base = losses(p, x, enc, null);
    const h = 1e-3;
    const tensors: Array<[string, Float32Array, Float32Array]> = [
      ["wEnc", p.wEnc, g.wEnc], ["bEnc", p.bEnc, g.bEnc], ["wDec", p.wDec, g.wDec], ["bPre", p.bPre, g.bPre],
    ];
    let checked = 0;
    for (const [name, param, grad] of tensors) {
      for (let i = 0; i < param.length; i++) {
        const keep = param[i]!;
        param[i] = keep + h;
        const up = losses(p, x, enc, base.r);
        param[i] = keep - h;
        const down = losses(p, x, enc, base.r);
        param[i] = keep;
        const numeric = (up.main - down.main) / (2 * h) + coef * (up.aux - down.aux) / (2 * h);
        expect(Math.abs(numeric - grad[i]!), `${name}[${i}]: numeric ${numeric}, analytic ${grad[i]}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
        checked++;
      }
    }
    expect(checked).toBe(2 * WIDTH * DIM + WIDTH + DIM);
  });
});
