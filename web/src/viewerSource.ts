/** Which picture of a photo the viewer shows: a screen-sized rendition, never more than the screen needs. */

import { imagePath } from "./api";

/** The longest sides of the screen renditions the server makes (`GET /renditions/{id}?size=`): phone, desktop. */
export const SCREEN_SIZES = [1080, 2048] as const;
export type ScreenSize = (typeof SCREEN_SIZES)[number];
const LARGEST: ScreenSize = 2048;

/** What the viewer needs to know of a photo to pick its picture. */
export interface Viewable {
  image_id: string;
  image_url: string;
  display_url?: string;
  width: number;
  height: number;
}

export function renditionPath(imageId: string, size: ScreenSize): string {
  return `/renditions/${encodeURIComponent(imageId)}?size=${size}`;
}

/** The smallest screen rendition at least `devicePixels` on its longest side (the largest one past that). */
export function screenSize(devicePixels: number): ScreenSize {
  return SCREEN_SIZES.find((size) => size >= devicePixels) ?? LARGEST;
}

/**
 * The picture to show a photo with its longest side at `devicePixels` on screen: the screen rendition of that
 * size, or the photo as the browser can show it (`display_url`) when that is no larger than the rendition.
 */
export function screenSource(image: Viewable, devicePixels: number): string {
  const size = screenSize(devicePixels);
  const browserShowsOriginal = (image.display_url ?? image.image_url) === image.image_url;
  if (browserShowsOriginal && Math.max(image.width, image.height) <= size) return image.image_url;
  return renditionPath(image.image_id, size);
}

/** The most detailed picture the browser can show: the original, or for TIFF and HEIC their rendition. */
export function fullSource(image: Viewable): string {
  return image.display_url ?? imagePath(image.image_id);
}

/** The longest side, in pixels, of the picture `screenSource` gives for the same arguments. */
export function screenSourceSide(image: Viewable, devicePixels: number): number {
  return Math.min(screenSize(devicePixels), Math.max(image.width, image.height));
}
