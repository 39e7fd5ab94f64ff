// The fault suite's daemon: the real daemon (server/daemon.js, its socket, lock, roots file,
// watcher and on-disk indexes) over the fake encoder, so that a kill can land in any phase
// without minutes of encoding. Usage: fault-daemon.mjs <cacheDir> <socketPath>. Prints "ready"
// once it listens; exits 3 with the message when it cannot start (another daemon holds the lock).
import { startDaemon } from "../../daemon/dist/server/daemon.js";
import { fakeEncoder } from "./fake-encoder.mjs";

const [cacheDir, socketPath] = process.argv.slice(2);
try {
  const daemon = await startDaemon({
    cacheDir,
    socketPath,
    version: "fault",
    // A few milliseconds per encoder call, commits of 3 files: kills land mid-encode, mid-commit
    // and mid-merge (the core merges every 16 commits).
    openEncoder: async () => fakeEncoder(undefined, 3),
    rootOptions: { debounceMs: 5, batchFiles: 3 },
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write("ready\n");
  await daemon.stopped;
  process.exit(0);
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(3);
}
