import { useEffect, useRef, useState } from "react";
import { useZoomPan } from "../hooks/useZoomPan";
import { fullSource, screenSource, screenSourceSide, type Viewable } from "../viewerSource";
import type { Size } from "../zoom";

interface PhotoStageProps {
  image: Viewable & { thumbnail_url: string };
  name: string;
  /** The stage's size in CSS pixels. */
  stage: Size;
  onSwipe: (step: 1 | -1) => void;
  /** Receives the stage's keyboard zoom (+, -), for the dialog's key handler. */
  zoomRef: (zoomBy: ((factor: number) => void) | null) => void;
}

/**
 * One photo on the viewer's stage: the thumbnail at once, then the screen rendition over it, then the original
 * once zoomed past what the rendition holds; all three move and scale as one. Keyed by photo, so each starts
 * fitted.
 */
export function PhotoStage({ image, name, stage, onSwipe, zoomRef }: PhotoStageProps) {
  const surface = useRef<HTMLDivElement>(null);
  const photo = { width: image.width, height: image.height };
  const { view, fit, handlers, zoomBy } = useZoomPan(surface, stage, photo, onSwipe);
  const ratio = window.devicePixelRatio || 1;
  const fittedPixels = Math.max(fit.size.width, fit.size.height) * ratio;

  // The screen picture is chosen once, for the stage as it first was: a resize does not fetch another.
  const [screen, setScreen] = useState<string | null>(null);
  const [screenSide, setScreenSide] = useState(0);
  useEffect(() => {
    if (screen !== null || fittedPixels <= 0) return;
    setScreen(screenSource(image, fittedPixels));
    setScreenSide(screenSourceSide(image, fittedPixels));
  }, [screen, fittedPixels, image]);
  const [screenLoaded, setScreenLoaded] = useState(false);

  // The original is fetched only once the zoom shows more pixels than the screen picture has.
  const full = fullSource(image);
  const [wantsFull, setWantsFull] = useState(false);
  const [fullLoaded, setFullLoaded] = useState(false);
  if (!wantsFull && screen !== null && screen !== full && fittedPixels * view.scale > screenSide * 1.05) {
    setWantsFull(true);
  }

  useEffect(() => {
    zoomRef(zoomBy);
    return () => zoomRef(null);
  });

  const loading = screen === null || !screenLoaded || (wantsFull && !fullLoaded);
  const zoomed = view.scale > 1.01;
  return (
    <div
      ref={surface}
      className={zoomed ? "viewer-surface zoomed" : "viewer-surface"}
      data-scale={view.scale.toFixed(2)}
      {...handlers}
    >
      <div
        className="viewer-photo"
        style={{
          left: fit.origin.x,
          top: fit.origin.y,
          width: fit.size.width,
          height: fit.size.height,
          transform: `translate(${view.offset.x}px, ${view.offset.y}px) scale(${view.scale})`,
        }}
      >
        <img className="viewer-placeholder" src={image.thumbnail_url} alt="" draggable={false} />
        {screen !== null && (
          <img
            className={screenLoaded ? "viewer-screen" : "viewer-screen loading"}
            src={screen}
            alt={name}
            width={image.width}
            height={image.height}
            draggable={false}
            onLoad={() => setScreenLoaded(true)}
            // A picture that fails falls back to the photo as the browser shows it; that failing too ends the wait.
            onError={() => (screen === full ? setScreenLoaded(true) : setScreen(full))}
          />
        )}
        {wantsFull && (
          <img
            className={fullLoaded ? "viewer-full" : "viewer-full loading"}
            src={full}
            alt=""
            draggable={false}
            onLoad={() => setFullLoaded(true)}
          />
        )}
      </div>
      {loading && (
        <p className="viewer-loading" role="status">
          <span className="spinner" aria-hidden="true" />
          <span className="visually-hidden">Loading the photo</span>
        </p>
      )}
    </div>
  );
}
