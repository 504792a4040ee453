/**
 * Polls `probe` until it gives a value (anything but undefined, null or false) and returns it;
 * fails naming `what` after `timeoutMs`. For state that real processes reach in their own time.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | null, timeoutMs = 12_000, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false && v !== null) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
