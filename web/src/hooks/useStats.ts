import { useCallback, useEffect, useState } from "react";
import { fetchStats, type LibraryStats, TokenRequiredError } from "../api";

/** What the page knows of the library: its summary, or null until it arrives or when the server is out of reach. */
export interface StatsState {
  stats: LibraryStats | null;
  /** The server wants an access token before it says anything. */
  needsToken: boolean;
  /** Asks again, after this page changed the library (duplicates moved away or back). */
  refresh: () => void;
}

export function useStats(online: boolean): StatsState {
  const [state, setState] = useState<Omit<StatsState, "refresh">>({ stats: null, needsToken: false });
  const [version, setVersion] = useState(0);
  const refresh = useCallback(() => setVersion((current) => current + 1), []);

  // Asked again when the connection returns, since the first attempt may have failed.
  useEffect(() => {
    if (!online) return;
    const controller = new AbortController();
    fetchStats(controller.signal).then(
      (stats) => setState({ stats, needsToken: false }),
      (error: unknown) => {
        if (error instanceof TokenRequiredError) setState({ stats: null, needsToken: true });
      },
    );
    return () => controller.abort();
  }, [online, version]);

  return { ...state, refresh };
}
