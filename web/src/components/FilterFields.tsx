import type { HistoryMode } from "../hooks/useUrlState";
import { RELEVANCE_CHOICES, type SearchState } from "../searchState";
import { DateField } from "./DateField";

interface FilterFieldsProps {
  id: string;
  state: SearchState;
  /** Folders of the library, relative to its root; offered when there is a choice. */
  folders: string[];
  /** First and last capture times in the library, or null when none is known. */
  takenRange: [string, string] | null;
  /** The threshold the server applies when the page sends none (as its last answer said); null until known. */
  defaultRelevance: number | null;
  onChange: (change: Partial<SearchState>, mode: HistoryMode) => void;
}

/** The folder, capture-date and relevance filters; each applies as soon as it changes. */
export function FilterFields({ id, state, folders, takenRange, defaultRelevance, onChange }: FilterFieldsProps) {
  // Date inputs take YYYY-MM-DD; the catalog's capture times are ISO date-times.
  const earliest = takenRange?.[0].slice(0, 10);
  const latest = takenRange?.[1].slice(0, 10);
  return (
    <div id={id} className="filter-fields">
      <label className="refine-field">
        <span>Relevance</span>
        <select
          value={state.minRelevance === null ? "" : String(state.minRelevance)}
          onChange={(event) =>
            onChange({ minRelevance: event.target.value === "" ? null : Number(event.target.value) }, "push")
          }
        >
          {/* The server's own default, whatever it is set to, named once an answer has said it. */}
          <option value="">{defaultLabel(defaultRelevance)}</option>
          {relevanceChoices(state.minRelevance).map(({ value, label }) => (
            <option key={value} value={String(value)}>
              {label}
            </option>
          ))}
        </select>
      </label>
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
          <DateField
            label="Taken on or after"
            value={state.takenAfter}
            min={earliest}
            max={latest}
            onCommit={(takenAfter, mode) => onChange({ takenAfter }, mode)}
          />
          <span aria-hidden="true">–</span>
          <DateField
            label="Taken on or before"
            value={state.takenBefore}
            min={earliest}
            max={latest}
            onCommit={(takenBefore, mode) => onChange({ takenBefore }, mode)}
          />
        </fieldset>
      )}
    </div>
  );
}

function defaultLabel(threshold: number | null): string {
  if (threshold === null) return "Default";
  return threshold === 0 ? "Default: every result" : `Default: at least ${Math.round(threshold)} of 100`;
}

/** The choices offered, and a threshold from the URL that is none of them (an older or hand-made link). */
function relevanceChoices(current: number | null): { value: number; label: string }[] {
  if (current === null || RELEVANCE_CHOICES.some(({ value }) => value === current)) return RELEVANCE_CHOICES;
  return [...RELEVANCE_CHOICES, { value: current, label: `At least ${current} of 100` }];
}
