import type { Ref } from "react";
import type { SearchResult } from "../api";
import { formatMatch } from "../format";

interface ResultCardProps {
  result: SearchResult;
  /** Only the active card is in the tab order; arrow keys move between the others. */
  active: boolean;
  buttonRef: Ref<HTMLButtonElement>;
  onFocus: () => void;
  onOpen: () => void;
}

export function imageName(result: { image_id: string; file_name?: string }): string {
  return result.file_name ?? `Image ${result.image_id}`;
}

/**
 * One thumbnail in the grid, with its rank. No score is stamped on it: a number invites trust it cannot carry;
 * the match in a word is read out, and shown in the large view.
 */
export function ResultCard({ result, active, buttonRef, onFocus, onOpen }: ResultCardProps) {
  const name = imageName(result);
  const match = formatMatch(result.match);
  return (
    <li className="result">
      <button
        ref={buttonRef}
        type="button"
        className="result-button"
        tabIndex={active ? 0 : -1}
        onFocus={onFocus}
        onClick={onOpen}
        aria-label={`Result ${result.rank}: ${name}${match ? `, ${match.toLowerCase()}` : ""}`}
      >
        <span className="result-frame">
          <img
            src={result.thumbnail_url}
            alt={name}
            loading="lazy"
            decoding="async"
            width={384}
            height={384}
          />
          <span className="badge rank-badge" aria-hidden="true">
            {result.rank}
          </span>
        </span>
        <span className="result-name" aria-hidden="true">
          {name}
        </span>
      </button>
    </li>
  );
}
