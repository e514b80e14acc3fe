import { RELEVANCE_CHOICES, type SearchState } from "../searchState";

interface FilterFieldsProps {
  id: string;
  state: SearchState;
  /** Folders of the library, relative to its root; offered when there is a choice. */
  folders: string[];
  /** First and last capture times in the library, or null when none is known. */
  takenRange: [string, string] | null;
  onChange: (change: Partial<SearchState>) => void;
}

/** The folder, capture-date and relevance filters; each applies as soon as it changes. */
export function FilterFields({ id, state, folders, takenRange, onChange }: FilterFieldsProps) {
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
            onChange({ minRelevance: event.target.value === "" ? null : Number(event.target.value) })
          }
        >
          {/* The server's own default, whatever it is set to: the page does not claim a number. */}
          <option value="">Default</option>
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
          <select value={state.folder} onChange={(event) => onChange({ folder: event.target.value })}>
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
          <input
            type="date"
            aria-label="Taken on or after"
            value={state.takenAfter}
            min={earliest}
            max={latest}
            onChange={(event) => onChange({ takenAfter: event.target.value })}
          />
          <span aria-hidden="true">–</span>
          <input
            type="date"
            aria-label="Taken on or before"
            value={state.takenBefore}
            min={earliest}
            max={latest}
            onChange={(event) => onChange({ takenBefore: event.target.value })}
          />
        </fieldset>
      )}
    </div>
  );
}

/** The choices offered, and a threshold from the URL that is none of them (an older or hand-made link). */
function relevanceChoices(current: number | null): { value: number; label: string }[] {
  if (current === null || RELEVANCE_CHOICES.some(({ value }) => value === current)) return RELEVANCE_CHOICES;
  return [...RELEVANCE_CHOICES, { value: current, label: `At least ${current} of 100` }];
}
