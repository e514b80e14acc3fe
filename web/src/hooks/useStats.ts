import { useEffect, useState } from "react";
import { fetchStats, type LibraryStats, TokenRequiredError } from "../api";

/** What the page knows of the library: its summary, or null until it arrives or when the server is out of reach. */
export interface StatsState {
  stats: LibraryStats | null;
  /** The server wants an access token before it says anything. */
  needsToken: boolean;
}

export function useStats(online: boolean): StatsState {
  const [state, setState] = useState<StatsState>({ stats: null, needsToken: false });

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
  }, [online]);

  return state;
}
