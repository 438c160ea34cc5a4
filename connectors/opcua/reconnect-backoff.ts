// How long the session owner waits before its next connection attempt (pure): exponential in the
// number of consecutive failures, capped, with jitter so that connectors restarted together do
// not all knock on a recovering server in the same instant.

export interface ReconnectSettings {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay after `failures` consecutive failures (1 for the first): initial·2^(failures-1), capped
 * at max, then scaled by a factor in [0.5, 1) ("equal jitter"), so the wait is never below half.
 */
export function reconnectDelayMs(failures: number, settings: ReconnectSettings, random: () => number = Math.random): number {
  const exponent = Math.max(0, failures - 1);
  // 2^31 already exceeds any allowed max_ms; a larger exponent would only overflow.
  const ceilingMs = Math.min(settings.initialMs * 2 ** Math.min(exponent, 31), settings.maxMs);
  return Math.round(ceilingMs * (0.5 + random() / 2));
}
