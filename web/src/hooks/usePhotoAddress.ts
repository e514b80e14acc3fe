import { useCallback, useEffect, useState } from "react";
import { afterStepBack, stepBack } from "../historySteps";

/** The query parameter that names the photo open in the viewer, so an open photo can be linked. */
export const PHOTO_PARAM = "photo";

// Marks the history entry the page pushed to open the viewer: closing goes back past it.
const OPENED_HERE = { viewer: true };

export interface PhotoAddress {
  /** The id of the photo open in the viewer, or null. */
  photo: string | null;
  /** Opens a photo: a history entry of its own, so Back closes the viewer; stepping replaces it. */
  open: (imageId: string) => void;
  /** Closes the viewer: Back where the page opened it, else the address without the photo. */
  close: () => void;
  /** Reads the photo again after the page changed the address itself (a new search drops the photo). */
  sync: () => void;
}

/** The open photo, held in the URL next to the search (`?q=…&photo=ID`), following back and forward. */
export function usePhotoAddress(): PhotoAddress {
  const [photo, setPhoto] = useState(photoInUrl);

  useEffect(() => {
    const restore = () => setPhoto(photoInUrl());
    window.addEventListener("popstate", restore);
    return () => window.removeEventListener("popstate", restore);
  }, []);

  const open = useCallback((imageId: string) => {
    afterStepBack(() => {
      const url = urlWithPhoto(imageId);
      if (photoInUrl() === null) window.history.pushState(OPENED_HERE, "", url);
      else window.history.replaceState(window.history.state, "", url);
      setPhoto(imageId);
    });
  }, []);

  const close = useCallback(() => {
    if (photoInUrl() === null) return;
    if (isOpenedHere(window.history.state)) {
      stepBack(); // popstate then clears the photo
      return;
    }
    // Opened from a link: there is no entry of ours to go back to.
    window.history.replaceState(null, "", urlWithPhoto(null));
    setPhoto(null);
  }, []);

  const sync = useCallback(() => afterStepBack(() => setPhoto(photoInUrl())), []);

  return { photo, open, close, sync };
}

function photoInUrl(): string | null {
  return new URLSearchParams(window.location.search).get(PHOTO_PARAM)?.trim() || null;
}

function urlWithPhoto(imageId: string | null): string {
  const params = new URLSearchParams(window.location.search);
  if (imageId === null) params.delete(PHOTO_PARAM);
  else params.set(PHOTO_PARAM, imageId);
  const query = params.toString();
  return `${window.location.pathname}${query ? `?${query}` : ""}`;
}

function isOpenedHere(state: unknown): boolean {
  return typeof state === "object" && state !== null && "viewer" in state && state.viewer === true;
}
