/** What a search answer puts on the page: the results, then the weaker rest of the ranking behind a button. */

import type { SearchResponse, SearchResult } from "./api";

// What older servers, which send no `closest`, get shown at once when nothing passed the cut.
const CLOSEST = 3;

export interface RankedLists {
  /** The hits the server rated at least the relevance cut. */
  results: SearchResult[];
  /** The weaker hits on show under the divider: the closest few when no result passed, else those revealed. */
  weaker: SearchResult[];
  /** Weaker hits still behind "Show weaker matches". */
  hidden: number;
}

export const NO_LISTS: RankedLists = { results: [], weaker: [], hidden: 0 };

/** The lists for an answer; `revealed` once the person asked to see every weaker hit. */
export function rankedLists(response: SearchResponse | null, revealed: boolean): RankedLists {
  if (response === null) return NO_LISTS;
  const { results } = response;
  // Servers older than `weaker` sent only the closest few.
  const weaker = response.weaker ?? response.closest ?? [];
  // A page never stands empty while the answer holds hits: the closest show at once.
  const atOnce = results.length > 0 ? 0 : (response.closest?.length ?? CLOSEST);
  const shown = revealed ? weaker.length : Math.min(atOnce, weaker.length);
  return { results, weaker: weaker.slice(0, shown), hidden: weaker.length - shown };
}

/** Every result on show, in page order: the list the keyboard and the large view step through. */
export function shownResults(lists: RankedLists): SearchResult[] {
  return [...lists.results, ...lists.weaker];
}

/** Whether the answer holds as many hits as were asked for, so a longer list may hold more. */
export function answerIsFull(response: SearchResponse | null, limit: number): boolean {
  if (response === null) return false;
  const weaker = response.weaker ?? response.closest ?? [];
  return response.results.length + weaker.length >= limit;
}
