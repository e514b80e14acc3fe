import type { SortOrder } from "../api";

const ORDERS: [SortOrder, string][] = [
  ["relevance", "Best match"],
  ["date", "Newest first"],
];

interface SortToggleProps {
  sort: SortOrder;
  onChange: (sort: SortOrder) => void;
}

/** Best match first, or newest capture first: two pressed-or-not buttons next to the result summary. */
export function SortToggle({ sort, onChange }: SortToggleProps) {
  return (
    <div className="sort-toggle" role="group" aria-label="Sort results">
      {ORDERS.map(([order, label]) => (
        <button
          key={order}
          type="button"
          className="sort-option"
          aria-pressed={sort === order}
          onClick={() => onChange(order)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}
