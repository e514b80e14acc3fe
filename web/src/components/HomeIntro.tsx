import type { LibraryStats } from "../api";
import { formatImageCount } from "../format";

/** The welcome above the search box before any search: what this is, and what the library holds. */
export function HomeIntro({ stats }: { stats: LibraryStats | null }) {
  return (
    <div className="home-intro">
      <h1>Find any photo by describing it</h1>
      {stats !== null && stats.images === 0 ? (
        <p className="empty-library" role="status">
          The library is empty. Index a folder with <code>viewfinder index ~/Pictures</code>, then reload this
          page.
        </p>
      ) : (
        <p>
          Search {stats === null ? "your images" : formatImageCount(stats.images)} by what is in them, or drop
          an image anywhere to find similar ones.
        </p>
      )}
    </div>
  );
}
