import type { SearchResult } from "../api";
import { ResultCard } from "./ResultCard";

interface ResultGridProps {
  /** The list's accessible name. */
  label: string;
  results: SearchResult[];
  /** Where the first of these stands in the page's whole list, which keyboard and large view step through. */
  start: number;
  activeIndex: number;
  /** A newer search is on its way; these results are about to be replaced. */
  stale: boolean;
  cardRef: (index: number, element: HTMLButtonElement | null) => void;
  onActiveChange: (index: number) => void;
  onOpen: (index: number) => void;
}

/** One grid of thumbnails; indices are places in the page's whole list (see RankedList). */
export function ResultGrid(props: ResultGridProps) {
  const { label, results, start, activeIndex, stale, cardRef, onActiveChange, onOpen } = props;
  return (
    <ul className={stale ? "result-grid stale" : "result-grid"} aria-label={label}>
      {results.map((result, offset) => {
        const index = start + offset;
        return (
          <ResultCard
            key={result.image_id}
            result={result}
            active={index === activeIndex}
            buttonRef={(element) => cardRef(index, element)}
            onFocus={() => onActiveChange(index)}
            onOpen={() => onOpen(index)}
          />
        );
      })}
    </ul>
  );
}
