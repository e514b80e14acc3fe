import type { LibraryStats } from "../api";
import type { HistoryMode } from "../hooks/useUrlState";
import { hasFilters, isMixedQuery, type SearchState } from "../searchState";
import { BalanceSlider } from "./BalanceSlider";

interface RefineBarProps {
  state: SearchState;
  stats: LibraryStats | null;
  onChange: (change: Partial<SearchState>, mode: HistoryMode) => void;
}

/** Ways to narrow a search without query syntax: text/image balance, folder and capture dates. */
export function RefineBar({ state, stats, onChange }: RefineBarProps) {
  // Uploads go to /search/image, which takes no filters; filters are offered only where the library has them.
  const byUpload = state.uploadKey !== null;
  const folders = byUpload ? [] : (stats?.folders ?? []);
  const takenRange = byUpload ? null : (stats?.taken_range ?? null);
  const mixed = isMixedQuery(state);
  if (!mixed && folders.length < 2 && takenRange === null) return null;

  return (
    <div className="refine-bar" role="group" aria-label="Refine the search">
      {mixed && (
        <BalanceSlider textShare={state.textShare} onCommit={(textShare) => onChange({ textShare }, "replace")} />
      )}
      {folders.length >= 2 && (
        <label className="refine-field">
          <span>Folder</span>
          <select value={state.folder} onChange={(event) => onChange({ folder: event.target.value }, "push")}>
            <option value="">All folders</option>
            {folders.map((folder) => (
              <option key={folder} value={folder}>
                {folder || "Top folder"}
              </option>
            ))}
          </select>
        </label>
      )}
      {takenRange && (
        <fieldset className="refine-field date-range">
          <legend>Taken</legend>
          <input type="date" aria-label="Taken on or after" value={state.takenAfter}
            min={takenRange[0].slice(0, 10)} max={takenRange[1].slice(0, 10)}
            onChange={(event) => onChange({ takenAfter: event.target.value }, "push")} />
          <span aria-hidden="true">–</span>
          <input type="date" aria-label="Taken on or before" value={state.takenBefore}
            min={takenRange[0].slice(0, 10)} max={takenRange[1].slice(0, 10)}
            onChange={(event) => onChange({ takenBefore: event.target.value }, "push")} />
        </fieldset>
      )}
      {hasFilters(state) && (
        <button type="button" className="text-button"
          onClick={() => onChange({ folder: "", takenAfter: "", takenBefore: "" }, "push")}>
          Clear filters
        </button>
      )}
    </div>
  );
}
