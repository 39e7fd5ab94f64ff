// Writes a trained SAE in the shipped format (daemon/src/model/sae-format.ts).
import { writeSaeEncoder } from "@loupe/daemon/model/sae-format";
import type { SaeParams } from "@loupe/daemon/model/sae-train";

export async function writeSaeFiles(dir: string, p: SaeParams, training: Record<string, unknown> & { layer: number }): Promise<void> {
  await writeSaeEncoder(dir, { layer: training.layer, width: p.width, dim: p.dim, scale: p.scale, wEnc: p.wEnc, bEnc: p.bEnc, bPre: p.bPre }, training);
}
