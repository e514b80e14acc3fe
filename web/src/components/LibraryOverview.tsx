import { type ImageMeta, type LibraryOverview as Overview, thumbnailPath } from "../api";
import { formatImageCount, formatTakenDay } from "../format";
import { imageName } from "./ResultCard";

interface LibraryOverviewProps {
  overview: Overview;
  onOpenPhoto: (photo: ImageMeta) => void;
  onOpenFolder: (folder: string) => void;
}

/** The home page below the search box: the newest photos, then the folders, each with a count and a cover. */
export function LibraryOverview({ overview, onOpenPhoto, onOpenFolder }: LibraryOverviewProps) {
  const where = overview.folder ? ` in ${overview.folder}` : "";
  return (
    <div className="overview">
      {overview.folders.length > 0 && (
        <section aria-labelledby="overview-folders">
          <h2 id="overview-folders">Folders{where}</h2>
          <ul className="folder-tiles">
            {overview.folders.map((tile) => (
              <li key={tile.folder}>
                <button type="button" className="folder-tile" onClick={() => onOpenFolder(tile.folder)}>
                  <img src={thumbnailPath(tile.cover.image_id)} alt="" loading="lazy" />
                  <span className="folder-tile-name">{tile.folder.split("/").pop()}</span>
                  <span className="folder-tile-count">{formatImageCount(tile.images)}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {overview.recent.length > 0 && (
        <section aria-labelledby="overview-recent">
          <h2 id="overview-recent">Newest photos{where}</h2>
          <ul className="recent-photos">
            {overview.recent.map((photo) => {
              const day = formatTakenDay(photo.taken_at);
              return (
                <li key={photo.image_id}>
                  <button
                    type="button"
                    className="recent-photo"
                    aria-label={day ? `${day}: ${imageName(photo)}` : imageName(photo)}
                    onClick={() => onOpenPhoto(photo)}
                  >
                    <img src={thumbnailPath(photo.image_id)} alt="" loading="lazy" />
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      )}
    </div>
  );
}
