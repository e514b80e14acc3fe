import { ImageIcon } from "./Icons";

/** Shown while a file is dragged over the page, to say what dropping it will do. */
export function DropOverlay() {
  return (
    <div className="drop-overlay" aria-hidden="true">
      <div className="drop-overlay-card">
        <ImageIcon />
        <p>Drop an image to find similar ones</p>
      </div>
    </div>
  );
}
