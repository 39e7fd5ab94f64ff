// Progress for long CLI work, drawn on stderr with cli-progress when stderr is a terminal, and
// as a few plain lines otherwise (logs and CI stay readable). stdout stays for results.
import cliProgress from "cli-progress";

export function progressReporter(): { update: (phase: string, done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) {
    let lastPhase = "";
    let lastTenth = -1;
    return {
      update(phase, done, total) {
        const tenth = Math.floor((10 * done) / Math.max(total, 1));
        if (phase !== lastPhase || tenth !== lastTenth) {
          process.stderr.write(`${phase}: ${done}/${total}\n`);
          lastPhase = phase;
          lastTenth = tenth;
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "{phase} [{bar}] {value}/{total} · {eta_formatted} left", hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let phase = "";
  return {
    update(p, done, total) {
      if (p !== phase) {
        if (phase) bar.stop();
        phase = p;
        bar.start(total, done, { phase });
      } else {
        bar.update(done);
      }
    },
    stop() {
      if (phase) bar.stop();
    },
  };
}
