/**
 * A signal for one request: aborted after `timeoutMs` or when `parent` aborts, whichever comes
 * first. `dispose()` takes its listener off the parent again; AbortSignal.any would leave one on a
 * supervisor's long-lived signal per request for as long as the camera runs.
 */
export interface BoundedSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  dispose(): void;
}

export function boundedSignal(parent: AbortSignal | undefined, timeoutMs: number): BoundedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const onAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
