/** How numbers, sizes, dates and queries read on the page. */

import type { Match } from "./api";
import type { SearchState } from "./searchState";

const counts = new Intl.NumberFormat();
const dateTimes = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dates = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export function formatCount(count: number): string {
  return counts.format(count);
}

export function formatImageCount(count: number): string {
  return `${formatCount(count)} ${count === 1 ? "image" : "images"}`;
}

export function formatSimilarity(similarity: number): string {
  return similarity.toFixed(3);
}

const MATCH_WORDS: Record<Match, string> = {
  strong: "Strong match",
  possible: "Possible match",
  weak: "Weak match",
};

/** How likely a result matches, in a word as people say it (`Strong match`); null where the server gave none. */
export function formatMatch(match: Match | null | undefined): string | null {
  return match ? MATCH_WORDS[match] : null;
}

export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A capture time from the catalog; it carries no zone, so it reads as the camera's local time. */
export function formatTakenAt(takenAt: string): string {
  const date = new Date(takenAt);
  return Number.isNaN(date.getTime()) ? takenAt : dateTimes.format(date);
}

/** The day of a capture time, as a card shows it (`Mar 12, 2021`); null where the catalog has none. */
export function formatTakenDay(takenAt: string | null | undefined): string | null {
  if (!takenAt) return null;
  const date = new Date(takenAt);
  return Number.isNaN(date.getTime()) ? takenAt.slice(0, 10) : dates.format(date);
}

export function formatDuration(milliseconds: number): string {
  return milliseconds < 1000
    ? `${Math.max(1, Math.round(milliseconds))} ms`
    : `${(milliseconds / 1000).toFixed(1)} s`;
}

/** The query in words: `matching “red car” and similar to IMG_1.jpg, without “snow”`. */
export function describeQuery(state: SearchState, exampleName: string | null): string {
  const positives = [];
  if (state.text) positives.push(`matching “${state.text}”`);
  if (exampleName !== null) positives.push(`similar to ${exampleName}`);
  const negative = state.negative ? `, without “${state.negative}”` : "";
  return `${positives.join(" and ")}${negative}`;
}
