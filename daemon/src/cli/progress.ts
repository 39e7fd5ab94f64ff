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
    { stream: process.stderr, format: "{phase} [{bar}] {value}/{total} · {eta}", hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let phase = "";
  let done = 0;
  let start = { at: 0, done: 0 };
  // The estimate is redrawn every second from the rate since the phase began, so it grows while
  // no progress arrives instead of sitting at "0s left" (cli-progress's own ETA only moves on updates).
  const timer = setInterval(() => phase && bar.update(done, { eta: eta() }), 1000);
  timer.unref();
  function eta(): string {
    const total = bar.getTotal();
    if (done >= total) return "done";
    const elapsed = (Date.now() - start.at) / 1000;
    if (done <= start.done || elapsed < 1) return "estimating time left";
    const left = ((total - done) * elapsed) / (done - start.done);
    return `about ${formatSeconds(left)} left`;
  }
  return {
    update(p, value, total) {
      done = value;
      if (p !== phase) {
        if (phase) bar.stop();
        phase = p;
        start = { at: Date.now(), done: value };
        bar.start(total, value, { phase, eta: eta() });
      } else {
        bar.setTotal(total);
        bar.update(value, { eta: eta() });
      }
    },
    stop() {
      clearInterval(timer);
      if (phase) bar.stop();
    },
  };
}

/** 42 s, 3 min 5 s, 1 h 12 min. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
