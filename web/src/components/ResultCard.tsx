import type { CSSProperties, Ref } from "react";
import type { SearchResult } from "../api";
import { formatMatch, formatTakenDay } from "../format";
import { renditionPath, SCREEN_SIZES } from "../viewerSource";

interface ResultCardProps {
  result: SearchResult;
  /** Only the active card is in the tab order; arrow keys move between the others. */
  active: boolean;
  buttonRef: Ref<HTMLButtonElement>;
  onFocus: () => void;
  onOpen: () => void;
}

export function imageName(result: { image_id: string; file_name?: string }): string {
  return result.file_name ?? `Image ${result.image_id}`;
}

// The thumbnails' longest sides (`GET /thumbnails/{id}?size=`): one for each density of screen.
const THUMBNAIL_SIDES = [384, 768] as const;
// A tile's shape is the photo's, within these bounds: a panorama or a strip past them is cropped a little
// rather than drawn as a sliver.
const WIDEST = 8;
const TALLEST = 0.4;
// The height rows are laid out at (styles.css, --row-height), which `sizes` tells the browser.
const ROW_HEIGHT = { phone: 120, desktop: 200 };

/**
 * One photo in the grid, in its own shape, with the day it was taken. No score or rank is stamped on it: the
 * match in a word is read out, and the numbers are in the viewer.
 */
export function ResultCard({ result, active, buttonRef, onFocus, onOpen }: ResultCardProps) {
  const name = imageName(result);
  const match = formatMatch(result.match);
  const day = formatTakenDay(result.taken_at);
  const ratio = Math.min(WIDEST, Math.max(TALLEST, result.width / result.height || 1));
  // The label starts with the text on show, so speech input can name the card by what it sees.
  // A query with a quoted phrase: the words it was found in, read out and shown under the photo.
  const words = result.words ? `, words: ${result.words}` : "";
  const label = `${day ? `${day}: ` : ""}${name}${match ? `, ${match.toLowerCase()}` : ""}${words}`;
  return (
    <li className="result" style={{ "--ratio": ratio } as CSSProperties}>
      <button
        ref={buttonRef}
        type="button"
        className="result-button"
        tabIndex={active ? 0 : -1}
        onFocus={onFocus}
        onClick={onOpen}
        aria-label={label}
        title={result.words ?? undefined}
        data-rank={result.rank}
      >
        <span className="result-frame">
          <img
            src={result.thumbnail_url}
            srcSet={thumbnailSet(result)}
            sizes={`(max-width: 640px) ${tileWidth(ratio, ROW_HEIGHT.phone)}px, ${tileWidth(ratio, ROW_HEIGHT.desktop)}px`}
            alt={name}
            loading="lazy"
            decoding="async"
            width={result.width}
            height={result.height}
          />
        </span>
        {day && (
          <span className="result-day" aria-hidden="true">
            {day}
          </span>
        )}
        {result.words && (
          <span className="result-words" aria-hidden="true">
            {result.words}
          </span>
        )}
      </button>
    </li>
  );
}

/**
 * The pictures of a photo by their real widths, so that a high-density screen, or a panorama as wide as the
 * page, picks one sharp enough: the thumbnails, then the screen renditions; none larger than the photo.
 */
function thumbnailSet(result: SearchResult): string {
  const longest = Math.max(result.width, result.height);
  const pictures: [string, number][] = [
    [result.thumbnail_url, THUMBNAIL_SIDES[0]],
    [`${result.thumbnail_url}?size=${THUMBNAIL_SIDES[1]}`, THUMBNAIL_SIDES[1]],
    ...SCREEN_SIZES.map((size): [string, number] => [renditionPath(result.image_id, size), size]),
  ];
  const widths = new Set<number>();
  const candidates = [];
  for (const [url, side] of pictures) {
    const width = Math.max(1, Math.round((result.width * Math.min(side, longest)) / longest));
    if (widths.has(width)) break; // the photo has no more pixels to give
    widths.add(width);
    candidates.push(`${url} ${width}w`);
  }
  return candidates.join(", ");
}

// A justified row stretches its tiles up to this much past the row height (styles.css, .result max-width).
const ROW_GROWTH = 1.4;

function tileWidth(ratio: number, rowHeight: number): number {
  return Math.round(ratio * rowHeight * ROW_GROWTH);
}
