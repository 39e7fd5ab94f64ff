// The crash test's writer: opens the index in argv[2], continues after the last committed
// batch, and commits batch after batch (merging now and then) until it is killed. It prints
// "ready" once the index is open and a line after each commit, so the parent can time its kill
// into the real work.
import { FsDirectory } from "../../daemon/dist/index/directory.js";
import { Index } from "../../daemon/dist/index/index.js";
import { batch } from "./crash-plan.mjs";

const dir = await FsDirectory.open(process.argv[2]);
const index = await Index.open(dir, {
  pack: "sha256:crash", analyzer: 1, maxBufferedDocs: 16,
  mergePolicy: { factor: 3, minDocs: 20, maxDocs: 100_000, maxDeletedRatio: 0.3 },
});
process.stdout.write("ready\n");
for (let b = (index.commitData?.batch ?? 0) + 1; ; b++) {
  const { chunks, deletes } = batch(b);
  for (const c of chunks) await index.add(c);
  for (const p of deletes) index.deletePath(p);
  await index.commit({ batch: b });
  process.stdout.write(`committed ${b}\n`);
  if (b % 3 === 0) await index.merge();
}
