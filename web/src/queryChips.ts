/**
 * The search as the server read it (the answer's `terms` and `filters`), as chips under the search box: each
 * says one part with the share of the weight it gets, and removing one gives the search without that part.
 */

import type { AnswerFilters, AnswerTerm, SearchResponse } from "./api";
import { PAGE_SIZE, type SearchState } from "./searchState";

export interface QueryChip {
  key: string;
  /** What the chip shows: `red circle 70%`, `without square`, `July 2023`, `Your photo 40%`. */
  label: string;
  /** The search without this part (the home page when nothing is left to search for). */
  without: SearchState;
}

type Source = "line" | "negative" | "image";
type TextTerm = { text: string; weight: number };

/** The chips of an answer to the search `state` asked; none for servers that do not say how they read it. */
export function queryChips(response: SearchResponse, state: SearchState): QueryChip[] {
  const terms = response.terms ?? [];
  const sources = sourcesOf(terms, state);
  const positive = terms.filter((term) => term.weight > 0);
  const total = positive.reduce((sum, term) => sum + term.weight, 0);
  const chips = terms.map((term, index) => ({
    key: `term-${index}`,
    label: termLabel(term, positive.length > 1 ? term.weight / total : null),
    without: withoutTerm(terms, sources, index, state, response.filters, response.filters?.place?.name ?? null),
  }));
  const place = response.filters?.place?.name ?? null;
  const dates = dateLabel(response.filters);
  if (dates !== null) {
    const line = lineOf(terms, sources, -1, place);
    const text = typedDates(response.filters, state) ? line : state.text;
    const without = { ...state, text, takenAfter: "", takenBefore: "", limit: PAGE_SIZE };
    chips.push({ key: "dates", label: dates, without });
  }
  if (place !== null) {
    // A place is only ever typed: the line without it, its dates moved to the date fields as for a term.
    const without = withoutTerm(terms, sources, -1, state, response.filters, null);
    chips.push({ key: "place", label: `in ${place}`, without });
  }
  return chips;
}

/** Where each term came from: the typed line, the "Without" field (sent last) or the example image. */
function sourcesOf(terms: AnswerTerm[], state: SearchState): Source[] {
  const sources: Source[] = terms.map((term) => ("text" in term ? "line" : "image"));
  const last = terms.length - 1;
  const lastTerm = terms[last];
  if (state.negative && lastTerm && "text" in lastTerm && lastTerm.weight < 0 && lastTerm.text === state.negative) {
    sources[last] = "negative";
  }
  return sources;
}

function termLabel(term: AnswerTerm, share: number | null): string {
  const weight = share === null ? "" : ` ${percent(share)}`;
  if (!("text" in term)) return `${"image" in term ? "Your photo" : "Similar photo"}${weight}`;
  return term.weight < 0 ? `without ${term.text}` : `${term.text}${weight}`;
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function withoutTerm(
  terms: AnswerTerm[],
  sources: Source[],
  index: number,
  state: SearchState,
  filters: AnswerFilters | undefined,
  place: string | null,
): SearchState {
  const next = { ...state, limit: PAGE_SIZE };
  if (sources[index] === "image") return { ...next, imageId: null, uploadKey: null };
  if (sources[index] === "negative") return { ...next, negative: "" };
  // The line is written again from its other parts; dates it named, which the parts no longer hold, move to the
  // date fields so the search keeps them.
  const kept = typedDates(filters, state)
    ? { takenAfter: filters?.taken_after ?? "", takenBefore: filters?.taken_before ?? "" }
    : {};
  return { ...next, ...kept, text: lineOf(terms, sources, index, place) };
}

/** The typed line's parts but one (`skip`; -1 keeps all), and the place it named (null: none or left out),
 * written as the server reads them back. */
function lineOf(terms: AnswerTerm[], sources: Source[], skip: number, place: string | null): string {
  const parts = terms.filter(
    (term, index): term is AnswerTerm & TextTerm => index !== skip && sources[index] === "line" && "text" in term,
  );
  const line = typedLine(parts);
  return line && place ? `${line} in ${place}` : line;
}

/** Text terms as one typed line: `70% red circle + 30% green square without blue`; "" when none looks for anything. */
export function typedLine(terms: TextTerm[]): string {
  const positive = terms.filter((term) => term.weight > 0);
  if (positive.length === 0) return "";
  const total = positive.reduce((sum, term) => sum + term.weight, 0);
  const equal = positive.every((term) => term.weight === positive[0]?.weight);
  const head = positive.map((term) => (equal ? term.text : `${percent(term.weight / total)} ${term.text}`)).join(" + ");
  const negatives = terms.filter((term) => term.weight < 0).map((term) => ` without ${term.text}`);
  return head + negatives.join("");
}

/** Whether the answer's dates came from the typed line rather than the date fields. */
function typedDates(filters: AnswerFilters | undefined, state: SearchState): boolean {
  if (!filters) return false;
  return (filters.taken_after ?? "") !== state.takenAfter || (filters.taken_before ?? "") !== state.takenBefore;
}

const MONTHS = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
const DAYS = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

/** The capture dates searched, as people say them: `2023`, `July 2023`, `Jun 1, 2023 – Aug 31, 2023`. */
export function dateLabel(filters: AnswerFilters | undefined): string | null {
  const after = filters?.taken_after?.slice(0, 10);
  const before = filters?.taken_before?.slice(0, 10);
  if (!after && !before) return null;
  if (!after) return `before ${day(before as string)}`;
  if (!before) return `after ${day(after)}`;
  const [year = "", month = ""] = after.split("-");
  if (after === `${year}-01-01` && before === `${year}-12-31`) return year;
  const monthEnd = new Date(Date.UTC(Number(year), Number(month), 0)).toISOString().slice(0, 10);
  if (after.endsWith("-01") && before === monthEnd) return MONTHS.format(new Date(`${after}T00:00:00Z`));
  return `${day(after)} – ${day(before)}`;
}

function day(iso: string): string {
  const date = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? iso : DAYS.format(date);
}
