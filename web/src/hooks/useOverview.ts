import { useEffect, useState } from "react";
import { fetchOverview, type LibraryOverview } from "../api";

const RECENT = 24;

/**
 * The home page's view of the library (or of `folder`): newest photos and folder tiles; null until it arrives,
 * and where the server does not offer it (an older one), so the home page is then as it was.
 */
export function useOverview(folder: string, wanted: boolean, version: number): LibraryOverview | null {
  const [overview, setOverview] = useState<LibraryOverview | null>(null);

  useEffect(() => {
    if (!wanted) return;
    const controller = new AbortController();
    fetchOverview(folder, RECENT, controller.signal).then(setOverview, () => setOverview(null));
    return () => controller.abort();
  }, [folder, wanted, version]);

  return overview !== null && overview.folder === folder ? overview : null;
}
