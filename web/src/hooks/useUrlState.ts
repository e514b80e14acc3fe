import { useCallback, useEffect, useState } from "react";
import { afterStepBack } from "../historySteps";
import { formatSearchParams, parseSearchParams, type SearchState } from "../searchState";

/** How a change enters the history: a new search is an entry, a small adjustment replaces the current one. */
export type HistoryMode = "push" | "replace";

/**
 * The search state held in the URL, following back and forward. A history step that leaves the search as it
 * was (the photo viewer opening or closing) keeps the same state object, so the search is not run again.
 */
export function useUrlState(): [SearchState, (next: SearchState, mode?: HistoryMode) => void] {
  const [state, setState] = useState(() => parseSearchParams(window.location.search));

  useEffect(() => {
    const restore = () => {
      const next = parseSearchParams(window.location.search);
      setState((current) => (formatSearchParams(current) === formatSearchParams(next) ? current : next));
    };
    window.addEventListener("popstate", restore);
    return () => window.removeEventListener("popstate", restore);
  }, []);

  const navigate = useCallback((next: SearchState, mode: HistoryMode = "push") => {
    afterStepBack(() => {
      const url = `${window.location.pathname}${formatSearchParams(next)}`;
      // Repeating the current search runs it again without stacking identical history entries.
      if (url !== `${window.location.pathname}${window.location.search}`) {
        if (mode === "push") window.history.pushState(null, "", url);
        else window.history.replaceState(null, "", url);
      }
      setState(next);
    });
  }, []);

  return [state, navigate];
}
