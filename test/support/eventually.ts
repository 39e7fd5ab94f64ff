// Polls until `check` passes or `ms` run out (then its last failure is thrown): for effects that
// arrive asynchronously, like a watcher's events reaching the index.
export async function eventually(check: () => Promise<void>, ms = 10_000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}
