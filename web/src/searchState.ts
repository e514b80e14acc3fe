/** The query a page shows, and its round trip through the URL so searches can be shared and revisited. */

import type { ImageSearchRequest, SearchFilters, SearchRequest, SortOrder } from "./api";

export interface SearchState {
  /** What the images should show, in words. */
  text: string;
  /** What they should not show ("without …"). */
  negative: string;
  /** An indexed image to find similar ones to. */
  imageId: string | null;
  /** Key of an image uploaded in this page session (see uploads.ts); not shareable across sessions. */
  uploadKey: string | null;
  /** Share of the text when both text and an example image are given; the image gets the rest. */
  textShare: number;
  folder: string;
  /** Capture date bounds, YYYY-MM-DD. */
  takenAfter: string;
  takenBefore: string;
  /** How many results to ask for. */
  limit: number;
  /** Only results rated at least this relevant (0–100); null leaves it to the server's own default. */
  minRelevance: number | null;
  /** Best match first, or newest capture first. */
  sort: SortOrder;
}

export const PAGE_SIZE = 48;
export const MAX_RESULTS = 1000;
const DEFAULT_TEXT_SHARE = 0.5;
// Neither side of a mixed query may vanish entirely: that is a plain text or image search instead.
export const MIN_SHARE = 0.1;
export const MAX_SHARE = 0.9;

export const EMPTY_STATE: SearchState = {
  text: "",
  negative: "",
  imageId: null,
  uploadKey: null,
  textShare: DEFAULT_TEXT_SHARE,
  folder: "",
  takenAfter: "",
  takenBefore: "",
  limit: PAGE_SIZE,
  minRelevance: null,
  sort: "relevance",
};

/** The relevance thresholds the page offers besides the server's default, with what each means. */
export const RELEVANCE_CHOICES: { value: number; label: string }[] = [
  { value: 80, label: "Strong matches only" },
  { value: 0, label: "Any: list every result" },
];

export function hasQuery(state: SearchState): boolean {
  return state.text !== "" || state.imageId !== null || state.uploadKey !== null;
}

export function hasFilters(state: SearchState): boolean {
  return state.folder !== "" || state.takenAfter !== "" || state.takenBefore !== "" || state.minRelevance !== null;
}

/** Whether the text/image balance applies: words together with an example image (indexed or uploaded). */
export function isMixedQuery(state: SearchState): boolean {
  return state.text !== "" && (state.imageId !== null || state.uploadKey !== null);
}

/** A new query that keeps the user's filters: they describe the part of the library being searched. */
export function startQuery(current: SearchState, query: Partial<SearchState>): SearchState {
  return {
    ...EMPTY_STATE,
    folder: current.folder,
    takenAfter: current.takenAfter,
    takenBefore: current.takenBefore,
    minRelevance: current.minRelevance,
    sort: current.sort,
    ...query,
  };
}

export function parseSearchParams(search: string): SearchState {
  const params = new URLSearchParams(search);
  const text = (name: string) => params.get(name)?.trim() ?? "";
  return {
    text: text("q"),
    negative: text("not"),
    imageId: text("img") || null,
    uploadKey: text("upload") || null,
    textShare: clamp(Number(params.get("w") ?? DEFAULT_TEXT_SHARE), MIN_SHARE, MAX_SHARE, DEFAULT_TEXT_SHARE),
    folder: params.get("folder") ?? "",
    takenAfter: text("after"),
    takenBefore: text("before"),
    limit: Math.round(clamp(Number(params.get("k") ?? PAGE_SIZE), 1, MAX_RESULTS, PAGE_SIZE)),
    minRelevance: params.has("rel") ? clamp(Number(params.get("rel")), 0, 100, 50) : null,
    sort: params.get("sort") === "date" ? "date" : "relevance",
  };
}

/** The query string for a state, without defaults, so shared links stay short. */
export function formatSearchParams(state: SearchState): string {
  const params = new URLSearchParams();
  if (state.text) params.set("q", state.text);
  if (state.negative) params.set("not", state.negative);
  if (state.imageId) params.set("img", state.imageId);
  if (state.uploadKey) params.set("upload", state.uploadKey);
  if (isMixedQuery(state) && state.textShare !== DEFAULT_TEXT_SHARE) params.set("w", String(state.textShare));
  if (state.folder) params.set("folder", state.folder);
  if (state.takenAfter) params.set("after", state.takenAfter);
  if (state.takenBefore) params.set("before", state.takenBefore);
  if (state.limit !== PAGE_SIZE) params.set("k", String(state.limit));
  if (state.minRelevance !== null) params.set("rel", String(state.minRelevance));
  if (state.sort !== "relevance") params.set("sort", state.sort);
  const query = params.toString();
  return query ? `?${query}` : "";
}

/** The `POST /search` body for a state that has text or an indexed example image. */
export function searchRequest(state: SearchState): SearchRequest {
  const request: SearchRequest = { top_k: state.limit };
  if (isMixedQuery(state) && state.imageId !== null) {
    request.terms = [
      { text: state.text, weight: state.textShare },
      { image_id: state.imageId, weight: round(1 - state.textShare) },
    ];
  } else if (state.imageId !== null) {
    request.image_id = state.imageId;
  } else {
    request.query = state.text;
  }
  if (state.negative) request.negative = state.negative;
  const filters = searchFilters(state);
  if (filters) request.filters = filters;
  if (state.minRelevance !== null) request.min_relevance = state.minRelevance;
  // Only a change from the server's own order travels, so requests stay what older servers accept.
  if (state.sort !== "relevance") request.sort = state.sort;
  return request;
}

/** The `POST /search/image` fields for a state whose example image is the uploaded `image`. */
export function imageSearchRequest(state: SearchState, image: File): ImageSearchRequest {
  const request: ImageSearchRequest = { image, top_k: state.limit };
  if (state.text) request.query = state.text;
  if (isMixedQuery(state)) {
    request.query_weight = state.textShare;
    request.image_weight = round(1 - state.textShare);
  }
  if (state.negative) request.negative = state.negative;
  const filters = searchFilters(state);
  if (filters) request.filters = filters;
  if (state.minRelevance !== null) request.min_relevance = state.minRelevance;
  if (state.sort !== "relevance") request.sort = state.sort;
  return request;
}

/** Whether two states ask the same question, however many results they ask for. */
export function sameQuery(a: SearchState, b: SearchState): boolean {
  return formatSearchParams({ ...a, limit: PAGE_SIZE }) === formatSearchParams({ ...b, limit: PAGE_SIZE });
}

function searchFilters(state: SearchState): SearchFilters | null {
  if (!state.folder && !state.takenAfter && !state.takenBefore) return null;
  const filters: SearchFilters = {};
  if (state.folder) filters.folder = state.folder;
  if (state.takenAfter) filters.taken_after = state.takenAfter;
  if (state.takenBefore) filters.taken_before = state.takenBefore;
  return filters;
}

function clamp(value: number, low: number, high: number, fallback: number): number {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : fallback;
}

// Keeps 1 - 0.7 from travelling as 0.30000000000000004.
function round(value: number): number {
  return Math.round(value * 100) / 100;
}
