// The fault suite's record: with LOUPE_FAULTS_REPORT set, each fault test appends one JSON line
// of what it measured to that file (docs/reliability.md is written from such a run); without
// it, nothing is written.
import { appendFileSync } from "node:fs";

export function report(entry: Record<string, unknown>): void {
  const file = process.env.LOUPE_FAULTS_REPORT;
  if (file) appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...entry }) + "\n");
}
