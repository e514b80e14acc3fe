import { useCallback, useEffect, useState } from "react";
import { ApiError, search, searchByImage, type SearchResponse, UnreachableError } from "../api";
import { hasQuery, type SearchState, searchRequest } from "../searchState";
import { findUpload } from "../uploads";

/** Where the current search stands; every kind has something to show, so the page is never blank. */
export type SearchOutcome =
  | { kind: "idle" }
  | { kind: "loading"; previous: SearchResponse | null }
  | { kind: "results"; response: SearchResponse }
  | { kind: "error"; message: string }
  | { kind: "unreachable" };

/** Runs the search a state describes, cancelling any that is still in flight; `retry` runs it again. */
export function useSearch(state: SearchState): { outcome: SearchOutcome; retry: () => void } {
  const [outcome, setOutcome] = useState<SearchOutcome>({ kind: "idle" });
  const [attempt, setAttempt] = useState(0);
  const retry = useCallback(() => setAttempt((count) => count + 1), []);

  useEffect(() => {
    if (!hasQuery(state)) {
      setOutcome({ kind: "idle" });
      return;
    }
    // The last results stay on screen, dimmed, until the new ones replace them.
    setOutcome((current) => ({ kind: "loading", previous: latestResponse(current) }));
    const controller = new AbortController();
    // A superseded search may still settle; only the latest one may speak.
    const settle = (next: SearchOutcome) => {
      if (!controller.signal.aborted) setOutcome(next);
    };
    runSearch(state, controller.signal).then(
      (response) => settle({ kind: "results", response }),
      (error: unknown) => settle(failure(error)),
    );
    return () => controller.abort();
  }, [state, attempt]);

  // A search that failed for want of a connection runs again once the browser is back online.
  const unreachable = outcome.kind === "unreachable";
  useEffect(() => {
    if (!unreachable) return;
    window.addEventListener("online", retry);
    return () => window.removeEventListener("online", retry);
  }, [unreachable, retry]);

  return { outcome, retry };
}

function runSearch(state: SearchState, signal: AbortSignal): Promise<SearchResponse> {
  if (state.uploadKey === null) return search(searchRequest(state), signal);
  const upload = findUpload(state.uploadKey);
  if (!upload) {
    const gone =
      "The example image of this search was uploaded in an earlier visit; drop or choose it again.";
    return Promise.reject(new ApiError(gone));
  }
  const request = { image: upload.file, top_k: state.limit, query: state.text, negative: state.negative };
  return searchByImage(request, signal);
}

function latestResponse(outcome: SearchOutcome): SearchResponse | null {
  if (outcome.kind === "results") return outcome.response;
  if (outcome.kind === "loading") return outcome.previous;
  return null;
}

function failure(error: unknown): SearchOutcome {
  if (error instanceof UnreachableError) return { kind: "unreachable" };
  if (error instanceof ApiError) return { kind: "error", message: error.message };
  return { kind: "error", message: "Something went wrong in the page; reload it and try again." };
}
