/** Queries to try in one click when the server does not say what its model understands (`/stats`). */
export const PHOTO_EXAMPLES = [
  "sunset over the sea",
  "a dog playing in the snow",
  "city street at night",
  "birthday cake with candles",
  "red flowers",
];

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
