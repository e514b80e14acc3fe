import type { SearchResponse } from "../api";
import { formatCount, formatDuration, formatImageCount } from "../format";

interface ResultSummaryProps {
  /** Null while searching. */
  response: SearchResponse | null;
  /** The query in words, e.g. `matching “red car”`. */
  description: string;
  libraryImages: number | null;
  /** The answer holds as many as were asked for: the library may hold more, which load as the list scrolls. */
  more: boolean;
}

/** One line over the grid saying what is happening or what was found; read out as it changes. */
export function ResultSummary({ response, description, libraryImages, more }: ResultSummaryProps) {
  return (
    <p className="result-summary" role="status">
      {response === null ? (
        <span className="searching">
          <span className="spinner" aria-hidden="true" />
          {libraryImages === null ? "Searching…" : `Searching ${formatImageCount(libraryImages)}…`}
        </span>
      ) : (
        <>
          <span>
            {response.count === 0
              ? "Found no clear matches"
              : more
                ? `Found the best ${formatCount(response.count)} images ${description}, more as you scroll`
                : `Found ${formatCount(response.count)} ${response.count === 1 ? "image" : "images"} ${description}`}
          </span>
          {response.timings_ms.total !== undefined && (
            <span className="timing"> · {formatDuration(response.timings_ms.total)}</span>
          )}
        </>
      )}
    </p>
  );
}
