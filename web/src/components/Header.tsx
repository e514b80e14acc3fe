import type { LibraryStats } from "../api";
import { formatImageCount } from "../format";
import { ViewfinderMark } from "./Icons";

/** The top bar: the name, which leads home, and the size of the library being searched. */
export function Header({ stats, onHome }: { stats: LibraryStats | null; onHome: () => void }) {
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
      {stats && (
        <p className="library-size">
          {formatImageCount(stats.images)}
          {stats.model && <span className="model-name"> · {stats.model}</span>}
        </p>
      )}
    </header>
  );
}
