import { useEffect, useRef, useState } from "react";
import type { HistoryMode } from "../hooks/useUrlState";

interface DateFieldProps {
  label: string;
  value: string;
  min: string | undefined;
  max: string | undefined;
  onCommit: (value: string, mode: HistoryMode) => void;
}

// Typing a date passes through valid ones (0002, 0020, 0202, 2023): the search waits for the typing to pause.
const SETTLE_MS = 600;

/**
 * A capture-date bound that searches once typing pauses or the field is left, not at every keystroke; one
 * editing of the field is one history entry, later changes in it replace that entry.
 */
export function DateField({ label, value, min, max, onCommit }: DateFieldProps) {
  const [draft, setDraft] = useState(value);
  const [shown, setShown] = useState(value);
  const committed = useRef(false);
  if (shown !== value) {
    setShown(value);
    setDraft(value);
  }

  const commit = (next: string) => {
    if (next === value) return;
    onCommit(next, committed.current ? "replace" : "push");
    committed.current = true;
  };

  useEffect(() => {
    if (draft === value) return;
    const timer = window.setTimeout(() => commit(draft), SETTLE_MS);
    return () => window.clearTimeout(timer);
  });

  return (
    <input
      type="date"
      aria-label={label}
      value={draft}
      min={min}
      max={max}
      onFocus={() => {
        committed.current = false;
      }}
      onChange={(event) => setDraft(event.target.value)}
      onBlur={() => commit(draft)}
    />
  );
}
