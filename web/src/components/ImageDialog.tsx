import { type KeyboardEvent, type MouseEvent, useEffect, useRef, useState } from "react";
import { fetchImageMeta, type ImageMeta, type SearchResult } from "../api";
import { formatBytes, formatCount, formatMatch, formatSimilarity, formatTakenAt } from "../format";
import type { SearchState } from "../searchState";
import { fullSource, screenSource } from "../viewerSource";
import { fitPhoto, type Size } from "../zoom";
import { ChevronIcon, CloseIcon, SimilarIcon } from "./Icons";
import { PhotoStage } from "./PhotoStage";
import { imageName } from "./ResultCard";

/** A change to the search's filters the viewer offers: this photo's folder, or its day. */
export type FilterChange = Partial<Pick<SearchState, "folder" | "takenAfter" | "takenBefore">>;

interface ImageDialogProps {
  /** A result, or an image that is none (the photo a "Find similar" search started from, a linked photo). */
  result: SearchResult | ImageMeta;
  /** Said above the name, e.g. "Your photo". */
  caption?: string | undefined;
  /** Where the photo stands among the results (0-based), when it is one of them. */
  position: { index: number; count: number } | null;
  /** The results either side, fetched ahead so that stepping shows them at once. */
  neighbours: (SearchResult | ImageMeta)[];
  onStep: (step: -1 | 1) => void;
  /** Null where it would search again for what is on show. */
  onFindSimilar: (() => void) | null;
  /** Narrows the search to the photo's folder or day; null where there is no search to narrow. */
  onFilter: ((change: FilterChange) => void) | null;
  onClose: () => void;
}

/** The photo viewer: the photo to zoom, pan and swipe through, what the catalog knows of it, and "Find similar". */
export function ImageDialog(props: ImageDialogProps) {
  const { result, caption, position, neighbours, onStep, onFindSimilar, onFilter, onClose } = props;
  const dialogRef = useRef<HTMLDialogElement>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  const stageRef = useRef<HTMLDivElement>(null);
  const zoomBy = useRef<((factor: number) => void) | null>(null);
  const stage = useElementSize(stageRef);
  const hasPrevious = position !== null && position.index > 0;
  const hasNext = position !== null && position.index < position.count - 1;

  // A modal <dialog> brings focus trapping and Esc to close; the page gives focus back to the card.
  // Focus starts on Close rather than on the first control, which may be "Previous photo".
  useEffect(() => {
    const dialog = dialogRef.current;
    if (dialog && !dialog.open) dialog.showModal();
    closeRef.current?.focus();
  }, []);

  // The photos either side are fetched ahead, at the size this stage would show them; once per picture.
  const ahead = stage === null ? "" : neighbours.map((neighbour) => aheadSource(neighbour, stage)).join(" ");
  useEffect(() => {
    for (const source of ahead.split(" ").filter(Boolean)) new Image().src = source;
  }, [ahead]);

  const close = () => dialogRef.current?.close();

  const keys = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key === "ArrowLeft" && hasPrevious) onStep(-1);
    else if (event.key === "ArrowRight" && hasNext) onStep(1);
    else if (event.key === "+" || event.key === "=") zoomBy.current?.(1.5);
    else if (event.key === "-") zoomBy.current?.(1 / 1.5);
  };

  // A click on the backdrop lands on the dialog element itself.
  const closeOnBackdrop = (event: MouseEvent<HTMLDialogElement>) => {
    if (event.target === dialogRef.current) close();
  };

  const swipe = (step: 1 | -1) => {
    if ((step === 1 && hasNext) || (step === -1 && hasPrevious)) onStep(step);
  };

  const name = imageName(result);
  // What a browser cannot show (TIFF, HEIC) is downloaded rather than opened.
  const shownAsIs = fullSource(result) === result.image_url;
  return (
    <dialog
      ref={dialogRef}
      className="image-dialog"
      aria-labelledby="image-dialog-title"
      onClose={onClose}
      onKeyDown={keys}
      onClick={closeOnBackdrop}
    >
      <div className="dialog-body">
        <div className="viewer" ref={stageRef}>
          {stage !== null && (
            <PhotoStage
              key={result.image_id}
              image={result}
              name={name}
              stage={stage}
              onSwipe={swipe}
              zoomRef={(zoom) => {
                zoomBy.current = zoom;
              }}
            />
          )}
          {hasPrevious && (
            <button
              type="button"
              className="icon-button viewer-step previous"
              onClick={() => onStep(-1)}
              aria-label="Previous photo"
            >
              <ChevronIcon direction="left" />
            </button>
          )}
          {hasNext && (
            <button
              type="button"
              className="icon-button viewer-step next"
              onClick={() => onStep(1)}
              aria-label="Next photo"
            >
              <ChevronIcon direction="right" />
            </button>
          )}
        </div>
        <aside className="details">
          <header className="details-header">
            <div>
              {caption && <p className="details-caption">{caption}</p>}
              {position !== null && (
                <p className="details-position">
                  {formatCount(position.index + 1)} of {formatCount(position.count)}
                </p>
              )}
              <h2 id="image-dialog-title">{name}</h2>
            </div>
            <button ref={closeRef} type="button" className="icon-button" onClick={close} aria-label="Close">
              <CloseIcon />
            </button>
          </header>
          <ImageFacts result={result} onFilter={onFilter} />
          <div className="details-actions">
            {onFindSimilar && (
              <button type="button" className="primary-button" onClick={onFindSimilar}>
                <SimilarIcon />
                Find similar
              </button>
            )}
            {shownAsIs ? (
              <a className="secondary-button" href={result.image_url} target="_blank" rel="noreferrer">
                Open original
              </a>
            ) : (
              <a className="secondary-button" href={result.image_url} download={name}>
                Download original
              </a>
            )}
          </div>
          {"rank" in result && <Scores result={result} />}
        </aside>
      </div>
    </dialog>
  );
}

/** The catalog's facts about the image, skipping what it does not know; folder and day narrow the search. */
function ImageFacts({ result, onFilter }: { result: SearchResult | ImageMeta; onFilter: ImageDialogProps["onFilter"] }) {
  const match = "rank" in result ? formatMatch(result.match) : null;
  const day = result.taken_at ? result.taken_at.slice(0, 10) : null;
  const folder = result.folder === undefined ? null : result.folder;
  return (
    <dl className="facts">
      {match && <Fact term="Match">{match}</Fact>}
      {folder !== null && (
        <Fact term="Folder">
          {onFilter ? (
            <button
              type="button"
              className="link-button"
              onClick={() => onFilter({ folder })}
              title="Search only this folder"
            >
              {folder || "Top folder"}
            </button>
          ) : (
            folder || "Top folder"
          )}
        </Fact>
      )}
      {result.taken_at && (
        <Fact term="Taken">
          {onFilter && day ? (
            <button
              type="button"
              className="link-button"
              onClick={() => onFilter({ takenAfter: day, takenBefore: day })}
              title="Search only this day"
            >
              {formatTakenAt(result.taken_at)}
            </button>
          ) : (
            formatTakenAt(result.taken_at)
          )}
        </Fact>
      )}
      <PhotoWords result={result} />
      <Fact term="Dimensions">{`${result.width} × ${result.height}`}</Fact>
      {result.size_bytes !== undefined && <Fact term="Size">{formatBytes(result.size_bytes)}</Fact>}
    </dl>
  );
}

/** The words read in the photo: those a quoted phrase was found in, else asked of the server (results of other
 * searches do not carry them); nothing when none were read. */
function PhotoWords({ result }: { result: SearchResult | ImageMeta }) {
  const [fetched, setFetched] = useState<{ id: string; words: string | null } | null>(null);
  const given = typeof result.words === "string" ? result.words : null;
  useEffect(() => {
    if (given !== null) return;
    const controller = new AbortController();
    fetchImageMeta(result.image_id, controller.signal).then(
      (meta) => setFetched({ id: meta.image_id, words: meta.words ?? null }),
      () => undefined,
    );
    return () => controller.abort();
  }, [result.image_id, given]);
  const words = given ?? (fetched !== null && fetched.id === result.image_id ? fetched.words : null);
  return words ? <Fact term="Words in the photo">{words}</Fact> : null;
}

/** How the search rated the result, in numbers: for the curious, folded away. */
function Scores({ result }: { result: SearchResult }) {
  return (
    <details className="advanced">
      <summary>Advanced</summary>
      <dl className="facts">
        {typeof result.relevance === "number" && (
          <Fact term="Relevance">{`${Math.round(result.relevance)} of 100`}</Fact>
        )}
        <Fact term="Similarity">{formatSimilarity(result.similarity)}</Fact>
        <Fact term="Rank">{String(result.rank)}</Fact>
      </dl>
    </details>
  );
}

function Fact({ term, children }: { term: string; children: React.ReactNode }) {
  return (
    <div className="fact">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** The picture a photo would be shown with on this stage. */
function aheadSource(image: SearchResult | ImageMeta, stage: Size): string {
  const fitted = fitPhoto(stage, image).size;
  return screenSource(image, Math.max(fitted.width, fitted.height) * (window.devicePixelRatio || 1));
}

/** An element's size in CSS pixels, following it as it changes; null until first measured. */
function useElementSize(ref: React.RefObject<HTMLElement | null>): Size | null {
  const [size, setSize] = useState<Size | null>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () => {
      const { width, height } = element.getBoundingClientRect();
      setSize((current) =>
        current && current.width === width && current.height === height ? current : { width, height },
      );
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}
