import type { ReactNode, Ref } from "react";
import type { RankedLists } from "../answer";
import type { SortOrder } from "../api";
import type { GridShape } from "../hooks/useGridShape";
import type { SearchOutcome } from "../hooks/useSearch";
import { AlertIcon, OfflineIcon } from "./Icons";
import { RankedList, type RankedListHandle } from "./RankedList";
import { ResultSummary } from "./ResultSummary";
import { ShowMore } from "./ShowMore";
import { StateMessage } from "./StateMessage";
import { ToggleGroup } from "./ToggleGroup";
import { TokenForm } from "./TokenForm";

const ORDERS = [
  ["relevance", "Best match"],
  ["date", "Newest first"],
] as const;

const SHAPES = [
  ["fit", "Fit"],
  ["square", "Square"],
] as const;

interface SearchResultsProps {
  outcome: Exclude<SearchOutcome, { kind: "idle" }>;
  /** The answer on show (the last one, while a newer loads), as lists. */
  lists: RankedLists;
  description: string;
  libraryImages: number | null;
  online: boolean;
  sort: SortOrder;
  shape: GridShape;
  /** Shown above the results: the photo a "Find similar" search started from. */
  pinned: ReactNode;
  listRef: Ref<RankedListHandle>;
  activeIndex: number;
  onActiveChange: (index: number) => void;
  /** Opens the card at this place in the whole list (results, then the weaker ones on show). */
  onOpen: (index: number) => void;
  onRevealWeaker: () => void;
  onSortChange: (sort: SortOrder) => void;
  onShapeChange: (shape: GridShape) => void;
  onRetry: () => void;
  /** Offered when the results fill the page: there may be more worth seeing; called as the end scrolls near. */
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
  const { lists } = props;
  // A longer list of the same search keeps what is on show as it is until the rest arrives.
  const longer = outcome.kind === "loading" && outcome.longer;
  const settled = outcome.kind === "results" || longer;
  const nothing = settled && lists.results.length === 0 && lists.weaker.length === 0 && lists.hidden === 0;
  return (
    <section className={`search-results shape-${props.shape}`} aria-busy={outcome.kind === "loading"}>
      <div className="results-bar">
        <ResultSummary
          response={settled ? response : null}
          more={props.onShowMore !== null}
          description={description}
          libraryImages={libraryImages}
        />
        <div className="results-options">
          <ToggleGroup label="Thumbnail shape" options={SHAPES} value={props.shape} onChange={props.onShapeChange} />
          <ToggleGroup label="Sort results" options={ORDERS} value={props.sort} onChange={props.onSortChange} />
        </div>
      </div>
      {props.pinned}
      {nothing && (
        <StateMessage title="No images match">
          <p>Nothing in the library is close to this. Try fewer or broader words, or remove a filter.</p>
        </StateMessage>
      )}
      {response !== null && lists.results.length === 0 && lists.weaker.length > 0 && (
        <div className="no-clear-matches">
          <h2>No clear matches</h2>
          <p>
            No image clearly shows this. The closest ones are below and may still be what you are looking for.
          </p>
        </div>
      )}
      {response !== null && (
        <RankedList
          handleRef={props.listRef}
          lists={lists}
          activeIndex={props.activeIndex}
          stale={outcome.kind === "loading" && !longer}
          onActiveChange={props.onActiveChange}
          onOpen={props.onOpen}
          onRevealWeaker={props.onRevealWeaker}
        />
      )}
      {/* Kept while the longer list loads, so the button keeps keyboard focus. */}
      {response !== null && props.onShowMore && (
        <ShowMore onShowMore={props.onShowMore} loading={outcome.kind === "loading"} />
      )}
    </section>
  );
}
