/** Queries to try in one click: the server's examples for its model (`/stats`), for people new to the search. */
export function ExampleChips({ queries, onPick }: { queries: string[]; onPick: (query: string) => void }) {
  if (queries.length === 0) return null;
  return (
    <div className="example-chips">
      <span className="example-chips-label" id="example-chips-label">
        Try
      </span>
      <ul aria-labelledby="example-chips-label">
        {queries.map((query) => (
          <li key={query}>
            <button type="button" className="chip" onClick={() => onPick(query)}>
              {query}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
