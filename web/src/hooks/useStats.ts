import { useEffect, useState } from "react";
import { fetchStats, type LibraryStats } from "../api";

/** The library summary, or null until it arrives (or when the server is out of reach). */
export function useStats(online: boolean): LibraryStats | null {
  const [stats, setStats] = useState<LibraryStats | null>(null);

  // Asked again when the connection returns, since the first attempt may have failed.
  useEffect(() => {
    if (!online) return;
    const controller = new AbortController();
    fetchStats(controller.signal).then(setStats, () => undefined);
    return () => controller.abort();
  }, [online]);

  return stats;
}
