import type { Ref } from "react";
import { thumbnailPath } from "../api";

interface YourPhotoProps {
  imageId: string;
  name: string;
  buttonRef: Ref<HTMLButtonElement>;
  onOpen: () => void;
}

/**
 * The photo a "Find similar" search started from, pinned above the results: the answer leaves it out of
 * them (an image is always most like itself), but it is what the results are to be compared with.
 */
export function YourPhoto({ imageId, name, buttonRef, onOpen }: YourPhotoProps) {
  return (
    <div className="your-photo">
      <button
        ref={buttonRef}
        type="button"
        className="your-photo-button"
        onClick={onOpen}
        aria-label={`Your photo: ${name}`}
      >
        <img src={thumbnailPath(imageId)} alt="" width={56} height={56} />
        <span className="your-photo-text" aria-hidden="true">
          <span className="your-photo-label">Your photo</span>
          <span className="your-photo-name">{name}</span>
        </span>
      </button>
    </div>
  );
}
