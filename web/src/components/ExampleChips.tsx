/** Queries to try in one click, for people who do not yet know what the search understands. */
export const EXAMPLE_QUERIES = [
  "sunset over the sea",
  "a dog playing in the snow",
  "city street at night",
  "birthday cake with candles",
  "red flowers",
];

export function ExampleChips({ onPick }: { onPick: (query: string) => void }) {
  return (
    <div className="example-chips">
      <span className="example-chips-label" id="example-chips-label">
        Try
      </span>
      <ul aria-labelledby="example-chips-label">
        {EXAMPLE_QUERIES.map((query) => (
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
