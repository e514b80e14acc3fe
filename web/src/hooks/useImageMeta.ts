import { useEffect, useState } from "react";
import { fetchImageMeta, type ImageMeta } from "../api";

// Images already seen in results, so "Find similar" names its example without another request.
const known = new Map<string, ImageMeta>();

export function rememberImage(meta: ImageMeta): void {
  known.set(meta.image_id, meta);
}

/** What the server knows about an indexed image, or null while unknown. */
export function useImageMeta(imageId: string | null): ImageMeta | null {
  const [fetched, setFetched] = useState<ImageMeta | null>(null);
  const cached = imageId === null ? undefined : known.get(imageId);

  useEffect(() => {
    if (imageId === null || known.has(imageId)) return;
    const controller = new AbortController();
    fetchImageMeta(imageId, controller.signal).then(
      (meta) => {
        rememberImage(meta);
        setFetched(meta);
      },
      () => undefined,
    );
    return () => controller.abort();
  }, [imageId]);

  if (cached) return cached;
  return fetched !== null && fetched.image_id === imageId ? fetched : null;
}
