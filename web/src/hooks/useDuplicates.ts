import { useCallback, useEffect, useState } from "react";
import {
  ApiError,
  type DuplicateKind,
  type DuplicatesResponse,
  fetchDuplicates,
  type ReviewResponse,
  resolveAll,
  resolveGroup,
  type UndoResponse,
  undoResolve,
} from "../api";

export type Listing =
  | { kind: "loading" }
  | { kind: "done"; response: DuplicatesResponse }
  | { kind: "error"; message: string };

/** The last thing done to the library from this view, for the status line (and its Undo). */
export type Outcome =
  | { kind: "moved"; review: ReviewResponse }
  | { kind: "restored"; undo: UndoResponse }
  | { kind: "failed"; message: string };

function messageOf(error: unknown): string {
  return error instanceof ApiError || error instanceof Error ? error.message : String(error);
}

/**
 * The duplicate groups of one kind, and the actions on them: keep one copy of a group, resolve every group
 * with its suggestion, undo the latest. Each action lists the groups again, since the index changed.
 */
export function useDuplicates(kind: DuplicateKind, onChanged: () => void) {
  const [listing, setListing] = useState<Listing>({ kind: "loading" });
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setListing((current) => (current.kind === "done" ? current : { kind: "loading" }));
    fetchDuplicates(kind, controller.signal).then(
      (response) => setListing({ kind: "done", response }),
      (error: unknown) => {
        if (error instanceof DOMException && error.name === "AbortError") return;
        setListing({ kind: "error", message: messageOf(error) });
      },
    );
    return () => controller.abort();
  }, [kind, version]);

  const act = useCallback(async (action: () => Promise<Outcome>) => {
    setBusy(true);
    try {
      setOutcome(await action());
    } catch (error) {
      setOutcome({ kind: "failed", message: messageOf(error) });
    } finally {
      setBusy(false);
      setVersion((current) => current + 1);
      onChanged();
    }
  }, [onChanged]);

  const keep = useCallback(
    (imageId: string, images: string[]) =>
      act(async () => ({ kind: "moved", review: await resolveGroup(imageId, images) })),
    [act],
  );
  const keepSuggested = useCallback(
    () => act(async () => ({ kind: "moved", review: await resolveAll(kind) })),
    [act, kind],
  );
  const undo = useCallback(() => act(async () => ({ kind: "restored", undo: await undoResolve() })), [act]);

  return { listing, outcome, busy, keep, keepSuggested, undo };
}
