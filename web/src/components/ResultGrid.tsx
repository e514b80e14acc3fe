import { type KeyboardEvent, type Ref, useImperativeHandle, useRef } from "react";
import type { SearchResult } from "../api";
import { ResultCard } from "./ResultCard";

/** Lets the page hand keyboard focus to a card: from the search box, or back from the large view. */
export interface ResultGridHandle {
  focusCard: (index: number) => void;
}

interface ResultGridProps {
  handleRef: Ref<ResultGridHandle>;
  results: SearchResult[];
  activeIndex: number;
  onActiveChange: (index: number) => void;
  onOpen: (index: number) => void;
  /** A newer search is on its way; these results are about to be replaced. */
  stale: boolean;
  /** The list's accessible name. */
  label?: string;
}

/** The ranked thumbnails; arrow keys, Home and End move through them, Enter opens one. */
export function ResultGrid(props: ResultGridProps) {
  const { handleRef, results, activeIndex, onActiveChange, onOpen, stale, label = "Search results" } = props;
  const cards = useRef<(HTMLButtonElement | null)[]>([]);
  useImperativeHandle(handleRef, () => ({ focusCard: (index) => cards.current[index]?.focus() }), []);

  const move = (event: KeyboardEvent<HTMLUListElement>) => {
    const next = nextIndex(event.key, activeIndex, results.length, columnCount(cards.current));
    if (next === null) return;
    event.preventDefault();
    // Focusing the card makes it the active one (see its onFocus).
    cards.current[next]?.focus();
  };

  return (
    <ul className={stale ? "result-grid stale" : "result-grid"} aria-label={label} onKeyDown={move}>
      {results.map((result, index) => (
        <ResultCard
          key={result.image_id}
          result={result}
          active={index === activeIndex}
          buttonRef={(element) => {
            cards.current[index] = element;
          }}
          onFocus={() => onActiveChange(index)}
          onOpen={() => onOpen(index)}
        />
      ))}
    </ul>
  );
}

/** Cards in the first row, read from the layout since the grid reflows with the window. */
function columnCount(cards: (HTMLButtonElement | null)[]): number {
  const firstTop = cards[0]?.getBoundingClientRect().top;
  const sameRow = cards.filter((card) => card !== null && card.getBoundingClientRect().top === firstTop);
  return Math.max(1, sameRow.length);
}

function nextIndex(key: string, index: number, count: number, columns: number): number | null {
  const steps: Record<string, number> = {
    ArrowLeft: -1,
    ArrowRight: 1,
    ArrowUp: -columns,
    ArrowDown: columns,
  };
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  const step = steps[key];
  if (step === undefined) return null;
  const next = index + step;
  return next >= 0 && next < count ? next : null;
}
