import { type KeyboardEvent, type Ref, useEffect, useImperativeHandle, useRef } from "react";
import type { RankedLists } from "../answer";
import { formatCount } from "../format";
import { ResultGrid } from "./ResultGrid";

/** Lets the page hand keyboard focus to a card: from the search box, or back from the large view. */
export interface RankedListHandle {
  focusCard: (index: number) => void;
}

interface RankedListProps {
  handleRef: Ref<RankedListHandle>;
  lists: RankedLists;
  activeIndex: number;
  /** A newer search is on its way; these results are about to be replaced. */
  stale: boolean;
  onActiveChange: (index: number) => void;
  onOpen: (index: number) => void;
  onRevealWeaker: () => void;
}

/**
 * The whole ranking, best first: the results, then under a divider the less likely ones, the rest of them
 * behind one button. Arrow keys, Home and End move through both grids as one list; Enter opens a card.
 */
export function RankedList(props: RankedListProps) {
  const { handleRef, lists, activeIndex, stale, onActiveChange, onOpen, onRevealWeaker } = props;
  const count = lists.results.length + lists.weaker.length;
  const cards = useRef<(HTMLButtonElement | null)[]>([]);
  const focusAfterReveal = useRef<number | null>(null);
  useImperativeHandle(handleRef, () => ({ focusCard: (index) => cards.current[index]?.focus() }), []);

  // The button that revealed the weaker ones is gone: focus goes on to the first of them.
  useEffect(() => {
    const index = focusAfterReveal.current;
    if (index === null || !cards.current[index]) return;
    focusAfterReveal.current = null;
    cards.current[index]?.focus();
  }, [count]);

  const move = (event: KeyboardEvent<HTMLDivElement>) => {
    const next = nextIndex(event.key, activeIndex, cards.current.slice(0, count));
    if (next === null) return;
    event.preventDefault();
    // Focusing the card makes it the active one (see its onFocus).
    cards.current[next]?.focus();
  };

  const grid = {
    activeIndex,
    stale,
    onActiveChange,
    onOpen,
    cardRef: (index: number, element: HTMLButtonElement | null) => {
      cards.current[index] = element;
    },
  };
  const hasWeaker = lists.weaker.length > 0 || lists.hidden > 0;
  return (
    <div className="ranked-list" onKeyDown={move}>
      {lists.results.length > 0 && <ResultGrid label="Search results" results={lists.results} start={0} {...grid} />}
      {hasWeaker && (
        <h2 className="weaker-heading" id="weaker-heading">
          Less likely matches
        </h2>
      )}
      {lists.weaker.length > 0 && (
        <ResultGrid label="Less likely matches" results={lists.weaker} start={lists.results.length} {...grid} />
      )}
      {lists.hidden > 0 && (
        <div className="show-weaker">
          <button
            type="button"
            className="secondary-button"
            aria-describedby="weaker-heading"
            onClick={() => {
              focusAfterReveal.current = count;
              onRevealWeaker();
            }}
          >
            Show weaker matches ({formatCount(lists.hidden)})
          </button>
        </div>
      )}
    </div>
  );
}

function nextIndex(key: string, index: number, cards: (HTMLButtonElement | null)[]): number | null {
  const last = cards.length - 1;
  if (key === "Home") return 0;
  if (key === "End") return last;
  if (key === "ArrowLeft") return index > 0 ? index - 1 : null;
  if (key === "ArrowRight") return index < last ? index + 1 : null;
  if (key === "ArrowUp") return rowNeighbour(cards, index, -1);
  if (key === "ArrowDown") return rowNeighbour(cards, index, 1);
  return null;
}

/**
 * The card in the next row up or down, nearest in column; read from the layout, since the grids reflow
 * with the window and the second grid's rows need not line up with the first's.
 */
function rowNeighbour(cards: (HTMLButtonElement | null)[], index: number, direction: 1 | -1): number | null {
  const here = cards[index]?.getBoundingClientRect();
  if (!here) return null;
  let best: { index: number; rowGap: number; columnGap: number } | null = null;
  for (const [other, card] of cards.entries()) {
    const box = card?.getBoundingClientRect();
    const rowGap = box ? (box.top - here.top) * direction : 0;
    if (!box || rowGap < 1) continue;
    const columnGap = Math.abs(box.left - here.left);
    const nearerRow = best === null || rowGap < best.rowGap - 1;
    const sameRowNearerColumn = best !== null && Math.abs(rowGap - best.rowGap) <= 1 && columnGap < best.columnGap;
    if (nearerRow || sameRowNearerColumn) best = { index: other, rowGap, columnGap };
  }
  return best?.index ?? null;
}
