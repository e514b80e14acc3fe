import type { Ref } from "react";
import type { SearchResult } from "../api";
import type { SearchOutcome } from "../hooks/useSearch";
import { AlertIcon, OfflineIcon } from "./Icons";
import { ResultGrid, type ResultGridHandle } from "./ResultGrid";
import { ResultSummary } from "./ResultSummary";
import { StateMessage } from "./StateMessage";
import { TokenForm } from "./TokenForm";

interface SearchResultsProps {
  outcome: Exclude<SearchOutcome, { kind: "idle" }>;
  description: string;
  libraryImages: number | null;
  online: boolean;
  gridRef: Ref<ResultGridHandle>;
  activeIndex: number;
  onActiveChange: (index: number) => void;
  onOpen: (result: SearchResult) => void;
  onRetry: () => void;
  /** Offered when the results fill the page: there may be more worth seeing. */
  onShowMore: (() => void) | null;
}

/** Everything below the search box once a search has started: progress, results, or why there are none. */
export function SearchResults(props: SearchResultsProps) {
  const { outcome, description, libraryImages, online, onRetry } = props;

  if (outcome.kind === "unreachable") {
    return online ? (
      <StateMessage
        icon={<OfflineIcon />}
        title="Viewfinder is not answering"
        urgent
        action={{ label: "Try again", onClick: onRetry }}
      >
        <p>
          The server at {window.location.host} cannot be reached. Check that <code>viewfinder serve</code> is
          still running, then try again.
        </p>
      </StateMessage>
    ) : (
      <StateMessage icon={<OfflineIcon />} title="You are offline" urgent>
        <p>This search will run again as soon as the connection is back.</p>
      </StateMessage>
    );
  }

  if (outcome.kind === "token") return <TokenForm />;

  if (outcome.kind === "error") {
    return (
      <StateMessage
        icon={<AlertIcon />}
        title="This search did not work"
        urgent
        action={{ label: "Try again", onClick: onRetry }}
      >
        <p className="error-message">{outcome.message}</p>
      </StateMessage>
    );
  }

  const response = outcome.kind === "results" ? outcome.response : outcome.previous;
  const closest = response?.closest ?? [];
  return (
    <section className="search-results" aria-busy={outcome.kind === "loading"}>
      <ResultSummary
        response={outcome.kind === "results" ? outcome.response : null}
        description={description}
        libraryImages={libraryImages}
      />
      {response !== null && response.count === 0 && outcome.kind === "results" && closest.length === 0 && (
        <StateMessage title="No images match">
          <p>Nothing in the library is close to this. Try fewer or broader words, or remove a filter.</p>
        </StateMessage>
      )}
      {response !== null && response.count === 0 && closest.length > 0 && (
        <>
          <StateMessage title="Nothing relevant">
            <p>
              No image is at least {response.min_relevance ?? 50}% relevant {description}. The closest ones are
              below; a lower relevance under Filters shows more.
            </p>
          </StateMessage>
          <h2 className="closest-heading">Closest images, below the relevance threshold</h2>
          <ResultGrid
            handleRef={props.gridRef}
            results={closest}
            label="Closest images"
            activeIndex={props.activeIndex}
            onActiveChange={props.onActiveChange}
            onOpen={(index) => {
              const result = closest[index];
              if (result) props.onOpen(result);
            }}
            stale={outcome.kind === "loading"}
          />
        </>
      )}
      {response !== null && response.count > 0 && (
        <ResultGrid
          handleRef={props.gridRef}
          results={response.results}
          activeIndex={props.activeIndex}
          onActiveChange={props.onActiveChange}
          onOpen={(index) => {
            const result = response.results[index];
            if (result) props.onOpen(result);
          }}
          stale={outcome.kind === "loading"}
        />
      )}
      {/* Kept while the longer list loads, so the button keeps keyboard focus. */}
      {response !== null && props.onShowMore && (
        <div className="show-more">
          <button type="button" className="secondary-button" onClick={props.onShowMore}>
            Show more results
          </button>
        </div>
      )}
    </section>
  );
}
