/**
 * Time as the daemon's pure parts see it: injected, so the simulation can run on virtual time.
 * `nowMs` is monotonic (never goes back); `wallMs` is the wall clock, for display and logs only.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  wallMs(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
}

/** The real clock: performance.now() for monotonic time, Date.now() for the wall. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
};
