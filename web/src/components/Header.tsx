import type { LibraryStats } from "../api";
import { formatImageCount } from "../format";
import { ViewfinderMark } from "./Icons";

/** The top bar: the name, which leads home, and the size of the library being searched. */
export function Header({
  stats,
  onHome,
  onDuplicates,
}: {
  stats: LibraryStats | null;
  onHome: () => void;
  onDuplicates: () => void;
}) {
  return (
    <header className="app-header">
      <a
        className="brand"
        href="/"
        onClick={(event) => {
          // Home is a state of this page: no reload, and it becomes a history entry like any search.
          event.preventDefault();
          onHome();
        }}
      >
        <ViewfinderMark />
        <span>Viewfinder</span>
      </a>
      <div className="header-end">
        <a
          className="header-link"
          href="/?view=duplicates"
          onClick={(event) => {
            event.preventDefault();
            onDuplicates();
          }}
        >
          Duplicates
        </a>
        {stats && (
          <p className="library-size">
            {formatImageCount(stats.images)}
            {stats.model && <span className="model-name"> · {stats.model}</span>}
          </p>
        )}
      </div>
    </header>
  );
}
