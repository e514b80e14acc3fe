import { useCallback, useEffect, useState } from "react";
import {
  ApiError,
  search,
  searchByImage,
  type SearchResponse,
  TokenRequiredError,
  UnreachableError,
} from "../api";
import { hasQuery, imageSearchRequest, type SearchState, sameQuery, searchRequest } from "../searchState";
import { findUpload } from "../uploads";

/** Where the current search stands; every kind has something to show, so the page is never blank. */
export type SearchOutcome =
  | { kind: "idle" }
  /** `longer`: the same question asked for more results, so what is on show stays good meanwhile. */
  | { kind: "loading"; previous: SearchResponse | null; longer: boolean }
  | { kind: "results"; response: SearchResponse }
  | { kind: "error"; message: string }
  | { kind: "unreachable" }
  | { kind: "token" };

/** How a search ended, and which search (state and attempt) it was. */
interface Settled {
  state: SearchState;
  attempt: number;
  outcome: SearchOutcome;
}

/** Runs the search a state describes, cancelling any that is still in flight; `retry` runs it again. */
export function useSearch(state: SearchState): { outcome: SearchOutcome; retry: () => void } {
  const [settled, setSettled] = useState<Settled | null>(null);
  const [attempt, setAttempt] = useState(0);
  const retry = useCallback(() => setAttempt((count) => count + 1), []);

  useEffect(() => {
    if (!hasQuery(state)) return;
    const controller = new AbortController();
    // A superseded search may still settle; only the latest one may speak.
    const settle = (outcome: SearchOutcome) => {
      if (!controller.signal.aborted) setSettled({ state, attempt, outcome });
    };
    runSearch(state, controller.signal).then(
      (response) => settle({ kind: "results", response }),
      (error: unknown) => settle(failure(error)),
    );
    return () => controller.abort();
  }, [state, attempt]);

  const outcome = currentOutcome(state, attempt, settled);

  // A search that failed for want of a connection runs again once the browser is back online.
  const unreachable = outcome.kind === "unreachable";
  useEffect(() => {
    if (!unreachable) return;
    window.addEventListener("online", retry);
    return () => window.removeEventListener("online", retry);
  }, [unreachable, retry]);

  return { outcome, retry };
}

/**
 * The outcome for the search on screen. Until that very search settles it is loading, so results or
 * errors of an earlier one are never shown as its own; the last results stay, dimmed, meanwhile.
 */
function currentOutcome(state: SearchState, attempt: number, settled: Settled | null): SearchOutcome {
  if (!hasQuery(state)) return { kind: "idle" };
  if (settled !== null && settled.state === state && settled.attempt === attempt) return settled.outcome;
  const previous = settled?.outcome.kind === "results" ? settled.outcome.response : null;
  return { kind: "loading", previous, longer: previous !== null && settled !== null && sameQuery(settled.state, state) };
}

function runSearch(state: SearchState, signal: AbortSignal): Promise<SearchResponse> {
  if (state.uploadKey === null) return search(searchRequest(state), signal);
  const upload = findUpload(state.uploadKey);
  if (!upload) {
    const gone = "The example image of this search was uploaded in an earlier visit; drop or choose it again.";
    return Promise.reject(new ApiError(gone));
  }
  return searchByImage(imageSearchRequest(state, upload.file), signal);
}

function failure(error: unknown): SearchOutcome {
  if (error instanceof UnreachableError) return { kind: "unreachable" };
  if (error instanceof TokenRequiredError) return { kind: "token" };
  if (error instanceof ApiError) return { kind: "error", message: error.message };
  return { kind: "error", message: "Something went wrong in the page; reload it and try again." };
}
