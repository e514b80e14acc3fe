/** The geometry of a zoomed photo: fitted into the stage, then scaled and moved, never off its edges. */

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** How far the photo is zoomed (1: fitted) and moved from where it sits fitted, in CSS pixels. */
export interface View {
  scale: number;
  offset: Point;
}

export const FITTED: View = { scale: 1, offset: { x: 0, y: 0 } };

/** Where and how large the photo sits when fitted: whole, centred, and never enlarged past its own pixels. */
export interface Fit {
  origin: Point;
  size: Size;
  /** The most it may be zoomed. */
  maxScale: number;
}

export function fitPhoto(stage: Size, photo: Size): Fit {
  const ratio = Math.min(stage.width / photo.width, stage.height / photo.height, 1);
  const size = { width: photo.width * ratio, height: photo.height * ratio };
  const origin = { x: (stage.width - size.width) / 2, y: (stage.height - size.height) / 2 };
  // Up to twice the photo's own pixels, and at least 4× however small it is.
  return { origin, size, maxScale: Math.max(4, 2 / ratio) };
}

/** The view zoomed to `scale` about `point` (in stage coordinates), which stays where it is on screen. */
export function zoomAbout(view: View, scale: number, point: Point, stage: Size, fit: Fit): View {
  const next = Math.min(fit.maxScale, Math.max(1, scale));
  const along = (axis: "x" | "y") => {
    const onPhoto = (point[axis] - fit.origin[axis] - view.offset[axis]) / view.scale;
    return point[axis] - fit.origin[axis] - next * onPhoto;
  };
  return clampView({ scale: next, offset: { x: along("x"), y: along("y") } }, stage, fit);
}

/** The view moved by `delta`, as far as the photo's edges allow. */
export function moveBy(view: View, delta: Point, stage: Size, fit: Fit): View {
  const offset = { x: view.offset.x + delta.x, y: view.offset.y + delta.y };
  return clampView({ scale: view.scale, offset }, stage, fit);
}

/** The zoom that shows the photo's pixels one to one on this screen (at least 2, so a small photo still grows). */
export function actualPixelsScale(photo: Size, fit: Fit, devicePixelRatio: number): number {
  return Math.min(fit.maxScale, Math.max(2, photo.width / (fit.size.width * devicePixelRatio)));
}

/** A photo smaller than the stage stays centred; a larger one may not leave a gap at any edge. */
function clampView(view: View, stage: Size, fit: Fit): View {
  const along = (axis: "x" | "y", length: "width" | "height") => {
    const shown = fit.size[length] * view.scale;
    if (shown <= stage[length]) return (fit.size[length] - shown) / 2;
    const low = stage[length] - fit.origin[axis] - shown;
    return Math.min(-fit.origin[axis], Math.max(low, view.offset[axis]));
  };
  return { scale: view.scale, offset: { x: along("x", "width"), y: along("y", "height") } };
}
