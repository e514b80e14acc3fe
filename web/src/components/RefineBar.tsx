import { useState } from "react";
import type { LibraryStats } from "../api";
import type { HistoryMode } from "../hooks/useUrlState";
import { hasFilters, isMixedQuery, type SearchState } from "../searchState";
import { BalanceSlider } from "./BalanceSlider";
import { FilterFields } from "./FilterFields";

interface RefineBarProps {
  state: SearchState;
  stats: LibraryStats | null;
  /** The server's own relevance threshold, as its last answer said; null until known. */
  defaultRelevance: number | null;
  onChange: (change: Partial<SearchState>, mode: HistoryMode) => void;
}

/** Ways to narrow a search without query syntax: the text/image balance, and filters behind a toggle. */
export function RefineBar({ state, stats, defaultRelevance, onChange }: RefineBarProps) {
  const filtered = hasFilters(state);
  const [filtersOpen, setFiltersOpen] = useState(filtered);
  // Folder and date filters are offered only where the library has them; the relevance threshold always.
  const folders = stats?.folders ?? [];
  const takenRange = stats?.taken_range ?? null;
  const mixed = isMixedQuery(state);

  const activeFilters = [state.folder, state.takenAfter, state.takenBefore, state.minRelevance !== null].filter(
    Boolean,
  ).length;
  return (
    <div className="refine" role="group" aria-label="Refine the search">
      <div className="refine-bar">
        {mixed && (
          <BalanceSlider
            textShare={state.textShare}
            onCommit={(textShare) => onChange({ textShare }, "replace")}
          />
        )}
        <button
          type="button"
          className={filtered ? "chip filter-toggle active" : "chip filter-toggle"}
          aria-expanded={filtersOpen}
          aria-controls="search-filters"
          onClick={() => setFiltersOpen(!filtersOpen)}
        >
          Filters{activeFilters > 0 && ` · ${activeFilters}`}
        </button>
        {filtered && (
          <button
            type="button"
            className="text-button"
            onClick={() => onChange({ folder: "", takenAfter: "", takenBefore: "", minRelevance: null }, "push")}
          >
            Clear filters
          </button>
        )}
      </div>
      {filtersOpen && (
        <FilterFields
          id="search-filters"
          state={state}
          folders={folders}
          takenRange={takenRange}
          defaultRelevance={defaultRelevance}
          onChange={onChange}
        />
      )}
    </div>
  );
}
