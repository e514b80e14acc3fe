import { useCallback, useEffect, useState } from "react";
import { afterStepBack } from "../historySteps";

const PARAM = "view";
const VALUE = "duplicates";

function isOpen(): boolean {
  return new URLSearchParams(window.location.search).get(PARAM) === VALUE;
}

/** Whether the duplicates view is shown, held in the URL (`?view=duplicates`) so back and forward work. */
export function useDuplicatesView(): { open: boolean; show: () => void; hide: () => void } {
  const [open, setOpen] = useState(isOpen);

  useEffect(() => {
    const restore = () => setOpen(isOpen());
    window.addEventListener("popstate", restore);
    return () => window.removeEventListener("popstate", restore);
  }, []);

  const show = useCallback(() => {
    afterStepBack(() => {
      if (!isOpen()) window.history.pushState(null, "", `${window.location.pathname}?${PARAM}=${VALUE}`);
      setOpen(true);
    });
  }, []);
  // Leaving is done by the search's own navigation, which rewrites the URL without the view.
  const hide = useCallback(() => setOpen(false), []);

  return { open, show, hide };
}
