import { type KeyboardEvent, type MouseEvent, useEffect, useRef } from "react";
import type { ImageMeta, SearchResult } from "../api";
import { formatBytes, formatMatch, formatSimilarity, formatTakenAt } from "../format";
import { ChevronIcon, CloseIcon, SimilarIcon } from "./Icons";
import { imageName } from "./ResultCard";

interface ImageDialogProps {
  /** A result, or an image that is none (the photo a "Find similar" search started from). */
  result: SearchResult | ImageMeta;
  /** Said above the name, e.g. "Your photo". */
  caption?: string;
  hasPrevious: boolean;
  hasNext: boolean;
  onStep: (step: -1 | 1) => void;
  /** Null where it would search again for what is on show. */
  onFindSimilar: (() => void) | null;
  onClose: () => void;
}

/** The large view of one result: the image, what the catalog knows about it, and "Find similar". */
export function ImageDialog({
  result,
  caption,
  hasPrevious,
  hasNext,
  onStep,
  onFindSimilar,
  onClose,
}: ImageDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const closeRef = useRef<HTMLButtonElement>(null);

  // A modal <dialog> brings focus trapping, Esc to close and focus return to the opening card.
  // Focus starts on Close rather than on the first control, which may be "Previous result".
  useEffect(() => {
    const dialog = dialogRef.current;
    if (dialog && !dialog.open) dialog.showModal();
    closeRef.current?.focus();
  }, []);

  const close = () => dialogRef.current?.close();

  const step = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key === "ArrowLeft" && hasPrevious) onStep(-1);
    else if (event.key === "ArrowRight" && hasNext) onStep(1);
  };

  // A click on the backdrop lands on the dialog element itself.
  const closeOnBackdrop = (event: MouseEvent<HTMLDialogElement>) => {
    if (event.target === dialogRef.current) close();
  };

  const name = imageName(result);
  return (
    <dialog
      ref={dialogRef}
      className="image-dialog"
      aria-labelledby="image-dialog-title"
      onClose={onClose}
      onKeyDown={step}
      onClick={closeOnBackdrop}
    >
      <div className="dialog-body">
        <div className="viewer" style={{ backgroundImage: `url("${result.thumbnail_url}")` }}>
          <img
            key={result.image_id}
            src={result.display_url ?? result.image_url}
            alt={name}
            width={result.width}
            height={result.height}
          />
          {hasPrevious && (
            <button
              type="button"
              className="icon-button viewer-step previous"
              onClick={() => onStep(-1)}
              aria-label="Previous result"
            >
              <ChevronIcon direction="left" />
            </button>
          )}
          {hasNext && (
            <button
              type="button"
              className="icon-button viewer-step next"
              onClick={() => onStep(1)}
              aria-label="Next result"
            >
              <ChevronIcon direction="right" />
            </button>
          )}
        </div>
        <aside className="details">
          <header className="details-header">
            <div>
              {caption && <p className="details-caption">{caption}</p>}
              <h2 id="image-dialog-title">{name}</h2>
            </div>
            <button ref={closeRef} type="button" className="icon-button" onClick={close} aria-label="Close">
              <CloseIcon />
            </button>
          </header>
          <ImageFacts result={result} />
          <div className="details-actions">
            {onFindSimilar && (
              <button
                type="button"
                className="primary-button"
                onClick={() => {
                  close();
                  onFindSimilar();
                }}
              >
                <SimilarIcon />
                Find similar
              </button>
            )}
            <a className="secondary-button" href={result.image_url} target="_blank" rel="noreferrer">
              Open original
            </a>
          </div>
        </aside>
      </div>
    </dialog>
  );
}

/** How the search rated a result, then the catalog's facts about the image, skipping what it does not know. */
function ImageFacts({ result }: { result: SearchResult | ImageMeta }) {
  // The match is said in a word; its number is there for the curious, on hover.
  const facts: [string, string, string?][] = [];
  if ("rank" in result) {
    const match = formatMatch(result.match);
    const relevance = typeof result.relevance === "number" ? `Relevance ${Math.round(result.relevance)} of 100` : "";
    if (match) facts.push(["Match", match, relevance]);
    facts.push(["Similarity", formatSimilarity(result.similarity)], ["Rank", String(result.rank)]);
  }
  if (result.folder !== undefined) facts.push(["Folder", result.folder || "Top folder"]);
  if (result.taken_at) facts.push(["Taken", formatTakenAt(result.taken_at)]);
  facts.push(["Dimensions", `${result.width} × ${result.height}`]);
  if (result.size_bytes !== undefined) facts.push(["Size", formatBytes(result.size_bytes)]);
  return (
    <dl className="facts">
      {facts.map(([term, value, detail]) => (
        <div key={term} className="fact">
          <dt>{term}</dt>
          <dd title={detail || undefined}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
