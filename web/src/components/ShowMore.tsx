import { useEffect, useRef } from "react";

interface ShowMoreProps {
  onShowMore: () => void;
  /** A longer list is on its way. */
  loading: boolean;
}

// How near the end of the list, in CSS pixels, the next results are asked for.
const AHEAD = "800px";

/**
 * The end of a list that may go on: more results load as it scrolls near, and a button asks for them from the
 * keyboard (or where the list is too short to scroll).
 */
export function ShowMore({ onShowMore, loading }: ShowMoreProps) {
  const element = useRef<HTMLDivElement>(null);
  const latest = useRef(onShowMore);
  latest.current = onShowMore;

  // Watched afresh after each load, so a list still short of the screen's end asks again.
  useEffect(() => {
    const target = element.current;
    if (loading || !target) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        observer.disconnect();
        latest.current();
      },
      { rootMargin: `0px 0px ${AHEAD} 0px` },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [loading]);

  return (
    <div className="show-more" ref={element}>
      {/* Not disabled while loading: a disabled button would drop keyboard focus. */}
      <button type="button" className="secondary-button" onClick={loading ? undefined : onShowMore} aria-disabled={loading}>
        {loading ? "Loading more…" : "Show more results"}
      </button>
    </div>
  );
}
