import { useCallback, useState } from "react";

/** How thumbnails are laid out: each in its photo's shape (justified rows), or all square. */
export type GridShape = "fit" | "square";

const KEY = "viewfinder-grid-shape";

/** The grid shape this browser chose last: a way of looking, kept apart from the search and its address. */
export function useGridShape(): [GridShape, (shape: GridShape) => void] {
  const [shape, setShape] = useState<GridShape>(() => (readStored() === "square" ? "square" : "fit"));
  const choose = useCallback((next: GridShape) => {
    setShape(next);
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // Storage turned off: the choice lasts as long as the page.
    }
  }, []);
  return [shape, choose];
}

function readStored(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}
