/**
 * A step back in the history lands a moment later (popstate), after any change the page pushes meanwhile: the
 * step would then undo that change instead of the one it was meant for (a search typed right after closing the
 * viewer came back as the viewer). So the page steps back here, and makes its own history changes through
 * `afterStepBack`, which holds them until the step has landed.
 */

// The step still on its way, if any; settled by its popstate, or after this long if none comes.
const LANDING_LIMIT_MS = 1000;
let landing: Promise<void> | null = null;

/** Goes back one entry; history changes asked for meanwhile wait for it to land. */
export function stepBack(): void {
  const step = new Promise<void>((resolve) => {
    const landed = () => {
      window.removeEventListener("popstate", landed);
      window.clearTimeout(timer);
      if (landing === step) landing = null;
      resolve();
    };
    const timer = window.setTimeout(landed, LANDING_LIMIT_MS);
    window.addEventListener("popstate", landed);
  });
  landing = step;
  window.history.back();
}

/** Runs a change to the history (and the state that goes with it) now, or once a step back has landed. */
export function afterStepBack(change: () => void): void {
  if (landing === null) change();
  else void landing.then(change);
}
