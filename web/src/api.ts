/** Typed calls to the Viewfinder HTTP API (docs/API.md); the page talks to nothing else. */

/** What the server knows about one indexed image (`GET /images/{id}/meta`). */
export interface ImageMeta {
  image_id: string;
  image_url: string;
  thumbnail_url: string;
  /** What a browser can show: the original, or a JPEG rendition of a TIFF or HEIC original. */
  display_url?: string;
  width: number;
  height: number;
  file_name?: string;
  folder?: string;
  size_bytes?: number;
  taken_at?: string | null;
  /** The words read in the photo (`index --ocr`): in the meta always, in results of a query with a quoted phrase. */
  words?: string | null;
}

/** How likely a result shows what was asked for, in a word (the server's own rating). */
export type Match = "strong" | "possible" | "weak";

/** The order of the answer: the server's ranking, or capture date, newest first. */
export type SortOrder = "relevance" | "date";

/** One ranked hit of a search. */
export interface SearchResult extends ImageMeta {
  /** Place in the ranking by relevance, whatever order the answer is sorted in. */
  rank: number;
  similarity: number;
  /** 0–100: how likely the image matches (docs/API.md); null where the server does not rate. */
  relevance?: number | null;
  match?: Match | null;
}

/** One term of a search as the server read it, with the weight the search gave it. */
export type AnswerTerm = ({ text: string } | { image_id: string } | { image: "uploaded" | "file" }) & {
  weight: number;
};

/** The conditions a search applied: those sent, narrowed by the dates its typed line names. */
export interface AnswerFilters {
  taken_after: string | null;
  taken_before: string | null;
  folder: string | null;
  /** A place the typed query named ("in Lisbon"); absent from servers older than the field. */
  place?: { name: string; box: number[] } | null;
}

export interface SearchResponse {
  query: string;
  /** How the server read the search (absent from servers older than the field). */
  terms?: AnswerTerm[];
  filters?: AnswerFilters;
  /** How many `results` there are. */
  count: number;
  /** The hits rated at least `min_relevance`. */
  results: SearchResult[];
  min_relevance?: number;
  /** The rest of the top_k, below the cut (absent from servers older than the field). */
  weaker?: SearchResult[];
  /** When `results` is empty: the first few of `weaker`, which a page shows at once. */
  closest?: SearchResult[];
  sort?: SortOrder;
  timings_ms: { total?: number };
}

/** The library summary (`GET /stats`); the filters are offered only where these fields are present. */
export interface LibraryStats {
  images: number;
  model?: string;
  folders?: string[];
  taken_range?: [string, string] | null;
  /** Queries that show what the index's model understands. */
  example_queries?: string[];
}

export type SearchTerm = ({ text: string } | { image_id: string }) & { weight: number };

export interface SearchFilters {
  folder?: string;
  taken_after?: string;
  taken_before?: string;
}

/** The JSON body of `POST /search`. */
export interface SearchRequest {
  top_k: number;
  query?: string;
  image_id?: string;
  negative?: string;
  terms?: SearchTerm[];
  filters?: SearchFilters;
  min_relevance?: number;
  sort?: SortOrder;
}

/** The fields of `POST /search/image` besides the file itself. */
export interface ImageSearchRequest {
  image: File;
  top_k: number;
  query?: string;
  negative?: string;
  /** The words' weight against the image's, as the terms of a JSON search. */
  query_weight?: number;
  image_weight?: number;
  filters?: SearchFilters;
  min_relevance?: number;
  sort?: SortOrder;
}

/** The server refused a request; the message is the server's own and is meant for the user. */
export class ApiError extends Error {}

/** The server could not be reached at all (offline, or `viewfinder serve` is not running). */
export class UnreachableError extends Error {}

/** The server wants its search token (`VIEWFINDER_API_TOKEN`), and the page sent none or a wrong one. */
export class TokenRequiredError extends ApiError {}

const TOKEN_COOKIE = "viewfinder_token";

/**
 * Keeps the search token in a cookie for this server, the one way `<img>` requests can carry it too.
 * SameSite=Strict: other sites' pages cannot make the browser send it.
 */
export function rememberToken(token: string): void {
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const value = encodeURIComponent(token);
  document.cookie = `${TOKEN_COOKIE}=${value}; Path=/; SameSite=Strict; Max-Age=31536000${secure}`;
}

/** Whether the server takes `token` as its search token, asked before the page keeps it and reloads. */
export async function tokenAccepted(token: string): Promise<boolean> {
  try {
    await call("/stats", { headers: { Authorization: `Bearer ${token}` } });
    return true;
  } catch (error) {
    if (error instanceof TokenRequiredError) return false;
    throw error;
  }
}

export function search(request: SearchRequest, signal: AbortSignal): Promise<SearchResponse> {
  return call("/search", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
    signal,
  });
}

export function searchByImage(request: ImageSearchRequest, signal: AbortSignal): Promise<SearchResponse> {
  const form = new FormData();
  form.append("image", request.image);
  form.append("top_k", String(request.top_k));
  if (request.query) form.append("query", request.query);
  if (request.negative) form.append("negative", request.negative);
  if (request.query_weight !== undefined) form.append("query_weight", String(request.query_weight));
  if (request.image_weight !== undefined) form.append("image_weight", String(request.image_weight));
  if (request.min_relevance !== undefined) form.append("min_relevance", String(request.min_relevance));
  if (request.sort !== undefined) form.append("sort", request.sort);
  for (const [name, value] of Object.entries(request.filters ?? {})) {
    if (value) form.append(name, value);
  }
  return call("/search/image", { method: "POST", body: form, signal });
}

export function fetchStats(signal: AbortSignal): Promise<LibraryStats> {
  return call("/stats", { signal });
}

/** A folder of the library as a home page tile (`GET /library/overview`). */
export interface FolderTile {
  folder: string;
  /** Photos in it, sub-folders included. */
  images: number;
  /** Its newest photo. */
  cover: ImageMeta;
}

/** The newest photos of the library or of one folder, and the folders inside it. */
export interface LibraryOverview {
  folder: string;
  recent: ImageMeta[];
  folders: FolderTile[];
}

export function fetchOverview(folder: string, recent: number, signal: AbortSignal): Promise<LibraryOverview> {
  const params = new URLSearchParams({ recent: String(recent) });
  if (folder) params.set("folder", folder);
  return call(`/library/overview?${params}`, { signal });
}

/** Which duplicates to look for, in words: the same file, near-identical copies, or similar shots. */
export type DuplicateKind = "exact" | "near" | "similar";

/** A group of near-identical photos (`GET /duplicates`), with the copy suggested to keep. */
export interface DuplicateGroup {
  similarity: number;
  exact: boolean;
  suggested_keep: string;
  recoverable_bytes: number;
  images: ImageMeta[];
}

export interface DuplicatesResponse {
  threshold: number | null;
  kind: DuplicateKind | null;
  count: number;
  recoverable_bytes: number;
  /** Whether this server can move duplicates to its review folder (not one serving a published snapshot). */
  resolvable: boolean;
  groups: DuplicateGroup[];
}

export interface MovedFile {
  image_id: string;
  file_name: string;
  folder: string;
  size_bytes: number;
}

export interface SkippedFile {
  file_name: string;
  reason: string;
}

export interface ReviewResponse {
  moved: MovedFile[];
  skipped: SkippedFile[];
  freed_bytes: number;
}

export interface UndoResponse {
  restored: MovedFile[];
  skipped: SkippedFile[];
}

/** Duplicate groups of one kind. */
export function fetchDuplicates(kind: DuplicateKind, signal: AbortSignal): Promise<DuplicatesResponse> {
  return call(`/duplicates?kind=${kind}`, { signal });
}

/** Keeps one image of a group and moves the others to the server's review folder. */
export function resolveGroup(keep: string, images: string[]): Promise<ReviewResponse> {
  return post("/duplicates/resolve", { keep, images });
}

/** Resolves every group of a kind with its suggested copy to keep. */
export function resolveAll(kind: DuplicateKind): Promise<ReviewResponse> {
  return post("/duplicates/resolve-all", { kind });
}

/** Moves the files of the latest resolve back into place. */
export function undoResolve(): Promise<UndoResponse> {
  return post("/duplicates/undo", {});
}

function post<T>(path: string, body: object): Promise<T> {
  return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export function fetchImageMeta(imageId: string, signal: AbortSignal): Promise<ImageMeta> {
  return call(`${imagePath(imageId)}/meta`, { signal });
}

export function imagePath(imageId: string): string {
  return `/images/${encodeURIComponent(imageId)}`;
}

export function thumbnailPath(imageId: string): string {
  return `/thumbnails/${encodeURIComponent(imageId)}`;
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: "application/json", ...init.headers } });
  } catch (error) {
    // An abort is the caller changing its mind, not a network failure.
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new UnreachableError("The Viewfinder server cannot be reached.");
  }
  const body: unknown = await response.json().catch(() => null);
  // Aborted while the body was read: the caller changed its mind, and the body is not whole.
  init.signal?.throwIfAborted();
  if (response.status === 401) {
    throw new TokenRequiredError(errorMessage(body) ?? "This server needs an access token.");
  }
  if (!response.ok || isFailure(body)) {
    throw new ApiError(
      errorMessage(body) ?? `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return body as T;
}

function isFailure(body: unknown): boolean {
  return typeof body === "object" && body !== null && "success" in body && body.success === false;
}

function errorMessage(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  if ("error" in body && typeof body.error === "string") return body.error;
  // Framework-level rejections (before the service's own handlers) may use `detail` instead.
  if ("detail" in body && typeof body.detail === "string") return body.detail;
  return null;
}
