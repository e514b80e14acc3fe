import type { QueryChip } from "../queryChips";
import type { SearchState } from "../searchState";
import { CloseIcon } from "./Icons";

/** The parts of the search as the server read them, each with a button that searches again without it. */
export function QueryChips({ chips, onRemove }: { chips: QueryChip[]; onRemove: (next: SearchState) => void }) {
  if (chips.length === 0) return null;
  return (
    <ul className="query-chips" aria-label="Searched for">
      {chips.map((chip) => (
        <li key={chip.key} className="query-chip">
          <span>{chip.label}</span>
          <button
            type="button"
            className="icon-button small"
            aria-label={`Remove ${chip.label}`}
            onClick={() => onRemove(chip.without)}
          >
            <CloseIcon />
          </button>
        </li>
      ))}
    </ul>
  );
}
